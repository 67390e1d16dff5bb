package wsframe

import (
	"bufio"
	"bytes"
	"strconv"
	"testing"

	"github.com/gobwas/ws"
)

func BenchmarkAppendFrame(b *testing.B) {
	for _, size := range []int{64, 4096} {
		payload := bytes.Repeat([]byte{'x'}, size)
		buf := make([]byte, 0, FrameSize(size)+4)
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendFrame(buf[:0], ws.OpText, payload)
			}
		})
		b.Run(strconv.Itoa(size)+"/masked", func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendMaskedFrame(buf[:0], ws.OpText, payload, testMask)
			}
		})
	}
}

func BenchmarkReadFrame(b *testing.B) {
	for _, size := range []int{64, 4096} {
		for _, masked := range []bool{false, true} {
			payload := bytes.Repeat([]byte{'x'}, size)
			frame := AppendFrame(nil, ws.OpText, payload)
			name := strconv.Itoa(size)
			if masked {
				frame = AppendMaskedFrame(nil, ws.OpText, payload, testMask)
				name += "/masked"
			}
			source := bytes.NewReader(frame)
			r := bufio.NewReaderSize(source, 8192)
			dst := make([]byte, 0, size)
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					source.Reset(frame)
					r.Reset(source)
					h, err := ReadHeader(r)
					if err != nil {
						b.Fatal(err)
					}
					if dst, err = ReadPayload(r, dst[:0], h, 32<<10); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
