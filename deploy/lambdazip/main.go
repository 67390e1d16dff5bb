// Command lambdazip packs a Lambda custom-runtime executable into a deployment zip: one
// entry named bootstrap, mode 0755, with a fixed timestamp, so that the same binary always
// gives the same zip and a redeploy without code changes does not update the function.
// It needs only Go, unlike zip(1) or python3, and is what `make lambda` uses.
//
// Usage: go run ./deploy/lambdazip [-o build/bootstrap.zip] build/bootstrap
package main

import (
	"archive/zip"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

func main() {
	out := flag.String("o", "build/bootstrap.zip", "zip file to write")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: lambdazip [-o build/bootstrap.zip] EXECUTABLE")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := writeZip(*out, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "lambdazip:", err)
		os.Exit(1)
	}
}

// epoch is the earliest time a zip file can record (MS-DOS time starts in 1980).
var epoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// writeZip writes a zip holding exe as an executable named bootstrap to out, atomically.
func writeZip(out, exe string) error {
	data, err := os.ReadFile(exe)
	if err != nil {
		return fmt.Errorf("read executable: %w", err)
	}
	zipped, err := zipBootstrap(data)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".bootstrap-*.zip")
	if err != nil {
		return fmt.Errorf("create zip: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("create zip: %w", err)
	}
	if _, err := tmp.Write(zipped); err != nil {
		tmp.Close()
		return fmt.Errorf("write zip: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write zip: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("write zip: %w", err)
	}
	return nil
}

// zipBootstrap returns the bytes of a zip holding data as the executable file bootstrap.
func zipBootstrap(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: epoch}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return nil, fmt.Errorf("zip bootstrap: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("zip bootstrap: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zip bootstrap: %w", err)
	}
	return buf.Bytes(), nil
}
