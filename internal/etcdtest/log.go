package etcdtest

import (
	"io"
	"os"
	"strings"
)

// logTailLines is how many log lines error messages include.
const logTailLines = 30

// logTailBytes bounds how much of the end of a log LogTail reads.
const logTailBytes = 64 << 10

// LogTail returns the last n lines of the member's log (stdout and stderr of
// every run, separated by marker lines). It returns "" if there is no log
// yet.
func (m *Member) LogTail(n int) string {
	f, err := os.Open(m.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() > logTailBytes {
		f.Seek(info.Size()-logTailBytes, io.SeekStart)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// formatTail formats a log tail for the end of an error message.
func formatTail(tail string) string {
	if tail == "" {
		return " (log is empty)"
	}
	return "\n--- log tail ---\n" + tail + "\n--- end of log ---"
}
