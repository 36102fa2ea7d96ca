package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat: USER_HZ,
// which Linux fixes at 100 for user space on every architecture.
const clockTick = 10 * time.Millisecond

// processCPU returns the user plus system CPU time of process pid so far,
// from fields 14 and 15 of /proc/PID/stat (see proc_pid_stat(5)).
func processCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading CPU time of process %d: %w", pid, err)
	}
	// The command name in field 2 may hold spaces and parentheses; the
	// fields after its closing parenthesis start with field 3.
	end := bytes.LastIndexByte(raw, ')')
	if end < 0 {
		return 0, fmt.Errorf("reading CPU time of process %d: malformed stat", pid)
	}
	fields := strings.Fields(string(raw[end+1:]))
	const utimeAt, stimeAt = 14 - 3, 15 - 3
	if len(fields) <= stimeAt {
		return 0, fmt.Errorf("reading CPU time of process %d: short stat", pid)
	}
	var ticks int64
	for _, f := range []string{fields[utimeAt], fields[stimeAt]} {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reading CPU time of process %d: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// memUsage is the resident memory of a process in bytes.
type memUsage struct {
	peak    int64 // VmHWM: the high-water mark since the process started
	current int64 // VmRSS
}

// processMemory reads the memory of process pid from /proc/PID/status.
func processMemory(pid int) (memUsage, error) {
	var m memUsage
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, fmt.Errorf("reading memory of process %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmHWM" && key != "VmRSS") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return m, fmt.Errorf("reading memory of process %d: %s: %w", pid, key, err)
		}
		if key == "VmHWM" {
			m.peak = kb << 10
		} else {
			m.current = kb << 10
		}
	}
	return m, sc.Err()
}

// selfCPU returns the CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
