package bench

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuMeter reports where the time of a benchmark's operations goes: the
// CPU time the etcd process and this process (the client, with its garbage
// collector) spend per operation. On this 2-core machine both share the
// cores, so at 16 goroutines their sum bounds the throughput.
type cpuMeter struct {
	pid            int
	server, client time.Duration
}

// start records the CPU times so far; pid is the etcd process.
func (m *cpuMeter) start(pid int) {
	m.pid = pid
	m.server, m.client = processCPU(pid), selfCPU()
}

// report adds the per-operation CPU time since start as the metrics
// server-cpu-us/op, client-cpu-us/op and their sum, cpu-us/op (what
// bounds throughput when the two share the machine's cores).
func (m *cpuMeter) report(b *testing.B) {
	server, client := processCPU(m.pid)-m.server, selfCPU()-m.client
	if b.N > 0 && server >= 0 {
		n := float64(b.N)
		b.ReportMetric(float64(server.Microseconds())/n, "server-cpu-us/op")
		b.ReportMetric(float64(client.Microseconds())/n, "client-cpu-us/op")
		b.ReportMetric(float64((server+client).Microseconds())/n, "cpu-us/op")
	}
}

// selfCPU is the user and system CPU time of this process.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU is the user and system CPU time of process pid from
// /proc/pid/stat (clock ticks of 10 ms), or -1 if it cannot be read.
func processCPU(pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// The command name, in parentheses, may contain spaces: fields are
	// counted after its closing parenthesis (utime and stime are fields
	// 14 and 15 of the line, 12 and 13 after it).
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
