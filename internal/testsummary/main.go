// Command testsummary reads the output of go test -json on its standard
// input and prints what a reader needs: each package's result, the
// output of what failed, and every test that skipped, with its reason, so
// that a suite skipped for want of a server is not read as passed. It
// exits 1 if anything failed or did not build.
//
//	go test -race -count=1 -json github.com/wootric-go/wootric/... | go run ./internal/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is a line of go test -json (test2json's TestEvent, with the build
// events of Go 1.24).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string
}

func main() { os.Exit(summarize(os.Stdin, os.Stdout)) }

func summarize(in io.Reader, out io.Writer) int {
	outputs := map[string][]string{} // by package and test: what it printed
	var skips []string
	failed := false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(out, sc.Text()) // not JSON: go's own message
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			outputs[key] = append(outputs[key], e.Output)
		case "build-output":
			outputs[e.ImportPath] = append(outputs[e.ImportPath], e.Output)
		case "build-fail":
			failed = true
			fmt.Fprint(out, strings.Join(outputs[e.ImportPath], ""))
		case "skip":
			if e.Test != "" {
				skips = append(skips, fmt.Sprintf("SKIP %s %s: %s", e.Package, e.Test, reason(outputs[key])))
			}
			delete(outputs, key)
		case "pass":
			if e.Test == "" {
				fmt.Fprintf(out, "ok   %s\n", e.Package)
			}
			delete(outputs, key)
		case "fail":
			failed = true
			if e.Test == "" {
				fmt.Fprintf(out, "FAIL %s\n", e.Package)
			}
			fmt.Fprint(out, strings.Join(outputs[key], ""))
			delete(outputs, key)
		}
	}
	for _, s := range skips {
		fmt.Fprintln(out, s)
	}
	if len(skips) > 0 {
		fmt.Fprintf(out, "%d tests skipped: they were not run, and passed nothing\n", len(skips))
	}
	if failed || sc.Err() != nil {
		return 1
	}
	return 0
}

// reason returns the message a skipped test printed: its last line that
// is not go test's own "--- SKIP" line.
func reason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "--- SKIP") && !strings.HasPrefix(l, "=== ") {
			return l
		}
	}
	return "(no reason given)"
}
