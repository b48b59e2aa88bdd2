package result

import "github.com/smolgo/smol/bench/internal/trend"

// SoakReport is what the soak client (cmd/soak) writes as samples.json and
// cmd/soakplot draws.
type SoakReport struct {
	// Meta are the soak's settings (server, connections, duration,
	// interval, sizes, seed) and context (command, load average, start).
	Meta     map[string]string `json:"meta"`
	Samples  []SoakSample      `json:"samples"`
	Verdicts []SoakVerdict     `json:"verdicts"` // RSS, fds, goroutines
	Failures []string          `json:"failures"` // empty when Pass
	Pass     bool              `json:"pass"`
}

// SoakSample is one reading of the server and of the load so far.
type SoakSample struct {
	T           float64 `json:"t_s"`            // seconds since the load started
	RSS         int64   `json:"rss"`            // VmRSS, bytes
	FDs         int     `json:"fds"`            // entries of /proc/PID/fd
	Goroutines  int     `json:"goroutines"`     // from the control port
	HeapInuse   uint64  `json:"heap_inuse"`     // from the control port
	HeapObjects uint64  `json:"heap_objects"`   // from the control port
	NumGC       uint32  `json:"num_gc"`         // from the control port
	ServerCPU   float64 `json:"server_cpu_s"`   // utime+stime so far, seconds
	ClientCPU   float64 `json:"client_cpu_s"`   // the soak client's own, so far
	Requests    int64   `json:"requests"`       // echoes completed and verified so far
	Bytes       int64   `json:"bytes_verified"` // echoed bytes verified so far
}

// SoakVerdict is the trend rule's verdict on one series.
type SoakVerdict struct {
	Series string `json:"series"` // RSS, fds or goroutines
	trend.Verdict
}
