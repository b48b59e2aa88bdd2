package blocking

import (
	"testing"

	"github.com/smolgo/smol/internal/env"
)

func TestDefaultPoolSettings(t *testing.T) {
	p := Default()
	want := env.Int("SMOL_MAX_BLOCKING_THREADS", DefaultMaxThreads, 10000)
	if p.limit != want {
		t.Fatalf("default pool limit %d, want %d", p.limit, want)
	}
	if Default() != p {
		t.Fatal("Default returned a second pool")
	}
}
