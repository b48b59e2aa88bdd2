package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/smolgo/smol/bench/internal/procfs"
	"github.com/smolgo/smol/bench/internal/result"
)

// runBurst measures how long a fresh connection waits while the server is
// flooded (issue 16, item 3). Each of -bursts rounds opens -conns
// connections (each verified by one echo), has every one write -burst
// bytes at once and then stop reading, waits -burst-delay for the server
// to be in the middle of echoing that into buffers nobody drains, and then
// dials one more connection and times its dial and its first -size byte
// echo (see firstEcho). Given the server's -pid, it also reports the
// server's CPU time over the 100 ms after that echo, which shows whether
// the burst was still being served when the echo came back. The burst's
// connections are closed before the next round.
func runBurst(o *options, res *result.Result, p *payload) error {
	if o.burst < 1 || o.bursts < 1 {
		return fmt.Errorf("bad flags: need -burst >= 1 and -bursts >= 1")
	}
	res.Burst = o.burst
	payload := bytes.Repeat([]byte{'b'}, o.burst)
	var dials, firsts, busyAfter []float64
	pr, err := startProbe(o)
	if err != nil {
		return err
	}
	defer pr.close()
	start := time.Now()
	for round := range o.bursts {
		// Open the burst's connections, as the echo mode does.
		conns := make([]net.Conn, o.conns)
		err := dialAll(o.conns, o.workers, o.verbose, func(i int) (err error) {
			conns[i], err = dialNet(srcAddr(i, o.sources), o.addr, p.msg(i, 0), o.timeout)
			return err
		})
		if round == 0 {
			res.ConnectS = time.Since(start).Seconds()
		}
		if err == nil {
			// The burst: every connection writes at once, never reads.
			var wg sync.WaitGroup
			for _, c := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c.Write(payload) // returns when the conn is closed, at the latest
				}()
			}
			time.Sleep(o.burstDelay)
			var dial, echo time.Duration
			dial, echo, err = pr.firstEcho()
			dials = append(dials, float64(dial.Microseconds())/1e3)
			firsts = append(firsts, float64(echo.Microseconds())/1e3)
			if o.pid != 0 && err == nil {
				// Was the burst still being served? The server's CPU
				// time over the next 100 ms says.
				var busy time.Duration
				busy, err = cpuOver(o.pid, 100*time.Millisecond)
				busyAfter = append(busyAfter, float64(busy.Milliseconds()))
			}
			for _, c := range conns {
				if c != nil {
					c.Close()
				}
			}
			wg.Wait()
		}
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		if err != nil {
			return err
		}
		if o.verbose {
			fmt.Fprintf(os.Stderr, "loadgen: burst round %d: dial %.1f ms, first echo %.1f ms\n", round, dials[round], firsts[round])
		}
	}
	res.FirstDialMs, res.FirstEchoMs, res.BusyAfterMs = dials, firsts, busyAfter
	res.FirstDialMedMs, _ = medMax(dials)
	res.FirstEchoMedMs, res.FirstEchoMaxMs = medMax(firsts)
	return nil
}

// medMax returns the median and the largest of xs, which is not empty.
func medMax(xs []float64) (med, mx float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)-1]
}

// cpuOver returns the CPU time the process pid uses over the next d.
func cpuOver(pid int, d time.Duration) (time.Duration, error) {
	t0, err := procfs.CPUTime(pid)
	if err != nil {
		return 0, err
	}
	time.Sleep(d)
	t1, err := procfs.CPUTime(pid)
	return t1 - t0, err
}

// The fresh connection is made by a probe, a second process of this
// program (-mode probe) started before the first burst: it has a Go
// runtime of its own, idle but for the probe, so the time it reports is
// the kernel's and the server's, not the wait of a goroutine behind the
// burst's thousand in this process (which made a dial take 95 ms here).
// It inherits this process's CPU affinity.
type probe struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startProbe(o *options) (*probe, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-mode", "probe", "-addr", o.addr, "-size", strconv.Itoa(o.size),
		"-sources", strconv.Itoa(o.sources), "-conns", strconv.Itoa(o.conns))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &probe{cmd: cmd, in: in, out: bufio.NewScanner(out)}, nil
}

// firstEcho asks the probe for one fresh connection and returns how long
// its dial and its first echo took.
func (p *probe) firstEcho() (dial, echo time.Duration, err error) {
	if _, err := io.WriteString(p.in, "go\n"); err != nil {
		return 0, 0, fmt.Errorf("probe: %w", err)
	}
	if !p.out.Scan() {
		return 0, 0, fmt.Errorf("probe exited: %v", p.out.Err())
	}
	line := p.out.Text()
	if _, err := fmt.Sscan(line, &dial, &echo); err != nil {
		return 0, 0, fmt.Errorf("probe: %s", line)
	}
	return dial, echo, nil
}

func (p *probe) close() {
	p.in.Close()
	p.cmd.Wait()
}

// runProbe is -mode probe: for each line on stdin, one fresh connection;
// it prints the dial's and the first echo's durations in nanoseconds, or
// the error.
func runProbe(o *options, p *payload) error {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		dial, echo, err := firstEcho(o, p)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(int64(dial), int64(echo))
	}
	return in.Err()
}

// firstEcho dials one connection and returns how long the dial took and
// how long its first echo of -size bytes took, from the write of the
// request to the last byte of the reply, verifying every byte. The two are
// apart because the dial does not involve the server's program (the
// kernel completes the handshake; the server accepts later).
func firstEcho(o *options, p *payload) (dial, echo time.Duration, err error) {
	start := time.Now()
	src := srcAddr(o.conns, o.sources)
	d := net.Dialer{Timeout: time.Minute, LocalAddr: &net.TCPAddr{IP: net.IP(src[:])}}
	c, err := d.Dial("tcp", o.addr)
	if err != nil {
		return 0, 0, fmt.Errorf("fresh connection during the burst: %w", err)
	}
	defer c.Close()
	dial = time.Since(start)
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	msg, got := p.msg(o.conns, 0), make([]byte, o.size)
	start = time.Now()
	if _, err = c.Write(msg); err == nil {
		_, err = readFull(c, got)
	}
	echo = time.Since(start)
	if err == nil && !bytes.Equal(got, msg) {
		err = fmt.Errorf("fresh connection during the burst: the echo differs from what was sent")
	}
	return dial, echo, err
}
