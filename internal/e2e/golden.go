package e2e

import (
	"bufio"
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// golden holds the golden frame files; see testdata/frames.golden for the format.
//
//go:embed testdata/*.golden
var golden embed.FS

// goldenStep is one line of a golden case: a frame to send or to expect.
type goldenStep struct {
	send  bool
	frame string
	line  int
}

type goldenCase struct {
	name  string
	file  string
	steps []goldenStep
}

// loadGolden parses every golden file. The format is line based, so that
// frames are written exactly as they go on the wire:
//
//	== name          starts a case (each case gets a fresh connection)
//	> FRAME          sends FRAME (a text frame, the rest of the line)
//	< FRAME          expects FRAME next: byte for byte, or for an error
//	                 frame its code, id and to (its message is free text)
//	# comment        and blank lines are ignored
//
// $ME in a frame stands for the connection's ID.
func loadGolden() ([]goldenCase, error) {
	files, err := golden.ReadDir("testdata")
	if err != nil {
		return nil, err
	}
	var cases []goldenCase
	for _, f := range files {
		name := "testdata/" + f.Name()
		data, err := golden.ReadFile(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSuffix(sc.Text(), "\r")
			switch {
			case line == "" || strings.HasPrefix(line, "#"):
			case strings.HasPrefix(line, "== "):
				cases = append(cases, goldenCase{name: strings.TrimSpace(line[3:]), file: name})
			case strings.HasPrefix(line, "> ") || strings.HasPrefix(line, "< "):
				if len(cases) == 0 {
					return nil, fmt.Errorf("%s:%d: frame before the first case", name, n)
				}
				c := &cases[len(cases)-1]
				c.steps = append(c.steps, goldenStep{send: line[0] == '>', frame: line[2:], line: n})
			default:
				return nil, fmt.Errorf("%s:%d: want \"== \", \"> \", \"< \" or \"#\": %q", name, n, line)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return cases, nil
}

// goldenError returns what an expected error frame fixes; ok is false when
// the frame is not an error frame.
func goldenError(frame string) (want errorWant, ok bool) {
	var f struct {
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
		ID json.RawMessage `json:"id"`
		To string          `json:"to"`
	}
	if json.Unmarshal([]byte(frame), &f) != nil || f.Error == nil {
		return errorWant{}, false
	}
	return errorWant{code: f.Error.Code, id: string(f.ID), to: f.To}, true
}

func testGolden(t *testing.T, e *env) {
	cases, err := loadGolden()
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no golden cases in testdata")
	}
	seen := make(map[string]bool)
	for i, gc := range cases {
		if seen[gc.name] {
			t.Fatalf("%s: duplicate golden case %q", gc.file, gc.name)
		}
		seen[gc.name] = true
		e := e.withPlacement(i) // the cases run in parallel: each places its own connection, case i on node i (modulo the nodes)
		t.Run(gc.name, func(t *testing.T) {
			t.Parallel()
			c := e.dial(t)
			me := c.ID(t)
			sent := "(nothing yet)"
			for _, step := range gc.steps {
				frame := strings.ReplaceAll(step.frame, "$ME", me)
				if step.send {
					c.send(t, frame)
					sent = frame
					continue
				}
				got := c.read(t, sent)
				where := fmt.Sprintf("%s:%d", gc.file, step.line)
				if want, isErr := goldenError(frame); isErr {
					if problem := checkError(got, want); problem != "" {
						t.Fatalf("%s: %s\n  sent: %s\n  want: %s\n   got: %s", where, problem, sent, frame, got)
					}
				} else if got != frame {
					t.Fatalf("%s: wrong frame\n  sent: %s\n  want: %s\n   got: %s", where, sent, frame, got)
				}
			}
			c.expectNothingPending(t, "every frame of the case was expected")
		})
	}
}
