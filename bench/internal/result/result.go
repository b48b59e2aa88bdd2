// Package result defines the JSON records the benchmark harness passes
// between its programs: the load generator writes one Result per run as a
// JSON line, the report program reduces them to a Summary, and the plot
// program draws the Summary.
package result

// Result is what one run reports; the driver collects these as JSON lines.
type Result struct {
	// Labels given by the driver, copied through.
	Server   string `json:"server,omitempty"`
	Scenario string `json:"scenario,omitempty"`
	Round    int    `json:"round,omitempty"`

	Mode    string `json:"mode"`
	Engine  string `json:"engine,omitempty"`
	Addr    string `json:"addr"`
	Conns   int    `json:"conns"`
	Size    int    `json:"size"`
	Sources int    `json:"sources"`
	FDLimit uint64 `json:"fd_limit"`

	ConnectS float64 `json:"connect_s"` // time to open and verify all connections

	// Echo mode.
	WarmupS       float64 `json:"warmup_s,omitempty"`
	WindowS       float64 `json:"window_s,omitempty"` // measured interval
	Requests      int64   `json:"requests,omitempty"`
	RPS           float64 `json:"rps,omitempty"`
	P50us         float64 `json:"p50_us,omitempty"`
	P99us         float64 `json:"p99_us,omitempty"`
	P999us        float64 `json:"p999_us,omitempty"`
	MeanUs        float64 `json:"mean_us,omitempty"`
	MaxUs         float64 `json:"max_us,omitempty"`
	Jain          float64 `json:"jain,omitempty"`
	MinConnReqs   int64   `json:"min_conn_reqs,omitempty"`
	MaxConnReqs   int64   `json:"max_conn_reqs,omitempty"`
	ServerCPUs    float64 `json:"server_cpu_s,omitempty"`      // server utime+stime in the window
	ServerCPUUtil float64 `json:"server_cpu_util,omitempty"`   // of one core
	ServerNsReq   float64 `json:"server_cpu_ns_req,omitempty"` // server CPU ns per request
	ClientCPUUtil float64 `json:"client_cpu_util,omitempty"`   // this process, of one core
	ClientNsReq   float64 `json:"client_cpu_ns_req,omitempty"` // this process's CPU ns per request

	// Server resident memory. Echo mode: at the window's end. Idle mode:
	// before connecting and with all connections open.
	RSSBase    int64   `json:"rss_base,omitempty"`
	RSSLoaded  int64   `json:"rss_loaded,omitempty"`
	BytesConn  float64 `json:"bytes_per_conn,omitempty"`
	RSSGCBase  int64   `json:"rss_gc_base,omitempty"`
	RSSGCLoad  int64   `json:"rss_gc_loaded,omitempty"`
	BytesConnG float64 `json:"bytes_per_conn_gc,omitempty"`

	// Burst mode: while every other connection floods the server with
	// Burst bytes, a fresh connection's dial and first echo (from the
	// write of its request to the reply), one of each per round.
	Burst          int       `json:"burst,omitempty"`
	FirstDialMs    []float64 `json:"first_dial_ms,omitempty"`
	FirstEchoMs    []float64 `json:"first_echo_ms,omitempty"`
	FirstDialMedMs float64   `json:"first_dial_med_ms,omitempty"`
	FirstEchoMedMs float64   `json:"first_echo_med_ms,omitempty"`
	FirstEchoMaxMs float64   `json:"first_echo_max_ms,omitempty"`
	BusyAfterMs    []float64 `json:"busy_after_ms,omitempty"` // server CPU in the 100 ms after the echo

	Error string `json:"error,omitempty"`
}

// Summary is the reduced form of a benchmark run: the medians over rounds
// for each (scenario, server) pair, with the context needed to read them.
type Summary struct {
	// Meta are the driver's settings (rounds, durations, cores, engine,
	// quick mode, notes such as a capped connection count).
	Meta map[string]string `json:"meta"`
	// Machine describes where the run happened.
	Machine Machine `json:"machine"`
	// Groups holds one entry per scenario and server, in run order.
	Groups []Group `json:"groups"`
}

// Machine describes the host of a run.
type Machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	FDLimit   string `json:"fd_limit"`
	LoadAvg   string `json:"loadavg"` // when the report was made
	Date      string `json:"date"`
}

// Group is the median over rounds of one server in one scenario. Every
// figure is the median of that figure over the successful rounds (so the
// medians of different figures may come from different rounds).
type Group struct {
	Scenario string   `json:"scenario"`
	Mode     string   `json:"mode"`
	Server   string   `json:"server"`
	Conns    int      `json:"conns"`
	Size     int      `json:"size"`
	Rounds   int      `json:"rounds"` // successful rounds
	Failed   int      `json:"failed"` // failed rounds
	Errors   []string `json:"errors,omitempty"`

	RPS           float64 `json:"rps,omitempty"`
	RPSMin        float64 `json:"rps_min,omitempty"`
	RPSMax        float64 `json:"rps_max,omitempty"`
	VsNet         float64 `json:"vs_net,omitempty"` // median rps / net's median rps in the same scenario
	P50us         float64 `json:"p50_us,omitempty"`
	P99us         float64 `json:"p99_us,omitempty"`
	P999us        float64 `json:"p999_us,omitempty"`
	Jain          float64 `json:"jain,omitempty"`
	ServerNsReq   float64 `json:"server_cpu_ns_req,omitempty"`
	ServerCPUUtil float64 `json:"server_cpu_util,omitempty"`
	ClientCPUUtil float64 `json:"client_cpu_util,omitempty"`
	ClientNsReq   float64 `json:"client_cpu_ns_req,omitempty"`

	BytesConn   float64 `json:"bytes_per_conn,omitempty"`
	BytesConnGC float64 `json:"bytes_per_conn_gc,omitempty"`
	RSSLoaded   float64 `json:"rss_loaded,omitempty"`
}
