// Command benchreport turns the CSV of examples/miniredis/bench.sh into a
// Markdown table: for every -c, -P and test, each server's median
// requests/s over the rounds, its range, its ratios to redis-server and to
// the net server (the median of the ratios within each round), and the
// median server CPU time per request.
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"strconv"
	"strings"
)

type goal struct{ met, total int }

type key struct {
	conns, pipe int
	test        string
}

type sample struct {
	rps, cpu float64
}

func main() {
	meta := flag.String("meta", "", "file of run facts to print first")
	flag.Parse()
	if flag.NArg() != 1 {
		log.Fatal("usage: benchreport [-meta file] results.csv")
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		log.Fatal(err)
	}
	// data[key][server][round]
	data := map[key]map[string]map[int]sample{}
	var servers []string
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		round, _ := strconv.Atoi(r[0])
		c, _ := strconv.Atoi(r[2])
		p, _ := strconv.Atoi(r[3])
		rps, _ := strconv.ParseFloat(r[5], 64)
		cpu, _ := strconv.ParseFloat(r[7], 64)
		k := key{c, p, r[4]}
		if data[k] == nil {
			data[k] = map[string]map[int]sample{}
		}
		if data[k][r[1]] == nil {
			data[k][r[1]] = map[int]sample{}
		}
		data[k][r[1]][round] = sample{rps, cpu}
		if !seen[r[1]] {
			seen[r[1]] = true
			servers = append(servers, r[1])
		}
	}
	order := map[string]int{"smol": 0, "coro": 1, "net": 2, "redis": 3}
	sort.Slice(servers, func(i, j int) bool { return order[servers[i]] < order[servers[j]] })
	var keys []key
	for k := range data {
		keys = append(keys, k)
	}
	testOrder := map[string]int{"SET": 0, "GET": 1, "INCR": 2}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.conns != b.conns {
			return a.conns < b.conns
		}
		if a.pipe != b.pipe {
			return a.pipe < b.pipe
		}
		ta, ok := testOrder[a.test]
		if !ok {
			ta = 9
		}
		tb, ok := testOrder[b.test]
		if !ok {
			tb = 9
		}
		return ta < tb || ta == tb && a.test < b.test
	})

	if *meta != "" {
		if b, err := os.ReadFile(*meta); err == nil {
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				fmt.Printf("- %s\n", line)
			}
			fmt.Println()
		}
	}
	fmt.Println("| -c | -P | test | server | req/s (median) | min..max | vs redis-server | vs net | server CPU ns/req |")
	fmt.Println("|---:|---:|---|---|---:|---:|---:|---:|---:|")
	vsRedisP16, vsNet := map[string]*goal{}, map[string]*goal{}
	for _, k := range keys {
		for _, s := range servers {
			rounds := data[k][s]
			if len(rounds) == 0 {
				continue
			}
			var rps, cpu []float64
			for _, smp := range rounds {
				rps = append(rps, smp.rps)
				cpu = append(cpu, smp.cpu)
			}
			ratio := func(ref string) (string, float64) {
				var rs []float64
				for round, smp := range rounds {
					if o, ok := data[k][ref][round]; ok && o.rps > 0 {
						rs = append(rs, smp.rps/o.rps)
					}
				}
				if len(rs) == 0 || s == ref {
					return "", 0
				}
				m := median(rs)
				return fmt.Sprintf("%.2fx", m), m
			}
			vr, mr := ratio("redis")
			vn, mn := ratio("net")
			if s == "smol" || s == "coro" {
				if k.pipe >= 16 && vr != "" {
					tally(vsRedisP16, s, mr >= 1)
				}
				if vn != "" {
					tally(vsNet, s, mn >= 1)
				}
			}
			fmt.Printf("| %d | %d | %s | %s | %s | %s..%s | %s | %s | %s |\n", k.conns, k.pipe, k.test, s,
				comma(median(rps)), comma(minOf(rps)), comma(maxOf(rps)), vr, vn, comma(median(cpu)))
		}
	}
	fmt.Println()
	for _, s := range []string{"smol", "coro"} {
		if g := vsRedisP16[s]; g != nil {
			fmt.Printf("- %s at -P 16: at least redis-server's requests/s (median ratio >= 1.00) in %d of %d cases\n", s, g.met, g.total)
		}
		if g := vsNet[s]; g != nil {
			fmt.Printf("- %s: at least net's requests/s (median ratio >= 1.00) in %d of %d cases\n", s, g.met, g.total)
		}
	}
}

func tally(m map[string]*goal, s string, ok bool) {
	if m[s] == nil {
		m[s] = &goal{}
	}
	m[s].total++
	if ok {
		m[s].met++
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// comma formats a number rounded to an integer with thousands separators.
func comma(x float64) string {
	s := strconv.FormatInt(int64(x+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
