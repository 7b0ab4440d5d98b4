// Command ratio reads `go test -bench` output (any number of rounds,
// concatenated) and prints, for every benchmark and unit, the median of
// each client and the ratio v2keys/upstream (or the columns and ratios
// that -impls and -ratios name).
//
// Benchmarks are grouped by their name without the impl=... element and
// the -GOMAXPROCS suffix, so BenchmarkGet/impl=v2keys-8 and
// BenchmarkGet/impl=upstream-8 form one row. Any unit is accepted, so
// compare.sh feeds peak RSS in as lines of the same format.
//
// Usage:
//
//	ratio [-impls a,b,c] [-ratios a/b,c/b] [file ...]    (standard input when no file is given)
//
// By default the columns are v2keys, upstream and raw and the ratio is
// v2keys/upstream; compare.sh --onv3 asks for -impls onv3,clientv3,v2
// -ratios onv3/clientv3,v2/clientv3. Rows with none of the columns' clients
// are left out. A ratio below 1.00 means the first client needs less (time,
// bytes, allocations, memory) than the second; for throughput units (MB/s)
// above 1.00 is better.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// impls are the columns, in order.
var impls = []string{"v2keys", "upstream", "raw"}

// ratio is one ratio column: the median of num over the median of den.
type ratio struct{ num, den string }

// ratios are the ratio columns, in order.
var ratios = []ratio{{"v2keys", "upstream"}}

// units are printed in this order; other units follow alphabetically.
var unitOrder = []string{"ns/op", "B/op", "allocs/op", "MB/s", "peak-RSS-KiB"}

var procSuffix = regexp.MustCompile(`-\d+$`)

// key identifies one row of one table.
type key struct{ bench, unit string }

func main() {
	log.SetFlags(0)
	log.SetPrefix("ratio: ")
	implsFlag := flag.String("impls", strings.Join(impls, ","), "the clients, in column order")
	ratiosFlag := flag.String("ratios", "v2keys/upstream", "ratio columns, comma-separated, each num/den")
	flag.Parse()
	impls = strings.Split(*implsFlag, ",")
	ratios = nil
	for _, r := range strings.Split(*ratiosFlag, ",") {
		num, den, ok := strings.Cut(r, "/")
		if !ok || !slices.Contains(impls, num) || !slices.Contains(impls, den) {
			log.Fatalf("-ratios: %q is not num/den of two of -impls", r)
		}
		ratios = append(ratios, ratio{num, den})
	}
	samples := map[key]map[string][]float64{}
	var order []string
	seen := map[string]bool{}
	read := func(r io.Reader) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			bench, im, vals, ok := parse(sc.Text())
			if !ok {
				continue
			}
			if !slices.Contains(impls, im) {
				continue
			}
			if !seen[bench] {
				seen[bench] = true
				order = append(order, bench)
			}
			for unit, v := range vals {
				k := key{bench, unit}
				if samples[k] == nil {
					samples[k] = map[string][]float64{}
				}
				samples[k][im] = append(samples[k][im], v)
			}
		}
		if err := sc.Err(); err != nil {
			log.Fatal(err)
		}
	}
	if flagArgs := flag.Args(); len(flagArgs) > 0 {
		for _, name := range flagArgs {
			f, err := os.Open(name)
			if err != nil {
				log.Fatal(err)
			}
			read(f)
			f.Close()
		}
	} else {
		read(os.Stdin)
	}
	if len(order) == 0 {
		log.Fatal("no benchmark lines with impl= found")
	}
	print(os.Stdout, order, samples)
}

// parse splits one benchmark result line into its group name, client and
// values by unit.
func parse(line string) (bench, im string, vals map[string]float64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
		return "", "", nil, false
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return "", "", nil, false
	}
	name := procSuffix.ReplaceAllString(f[0], "")
	var rest []string
	for _, el := range strings.Split(name, "/") {
		if v, found := strings.CutPrefix(el, "impl="); found {
			im = v
			continue
		}
		rest = append(rest, el)
	}
	if im == "" {
		return "", "", nil, false
	}
	vals = map[string]float64{}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return "", "", nil, false
		}
		vals[f[i+1]] = v
	}
	return strings.Join(rest, "/"), im, vals, true
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// spread is the half-range of xs relative to its median, in percent: a
// rough noise indicator.
func spread(xs []float64) float64 {
	m := median(xs)
	if m == 0 || len(xs) < 2 {
		return 0
	}
	return 100 * (slices.Max(xs) - slices.Min(xs)) / 2 / m
}

func print(w io.Writer, order []string, samples map[key]map[string][]float64) {
	units := map[string]bool{}
	for k := range samples {
		units[k.unit] = true
	}
	var extra []string
	for u := range units {
		if !slices.Contains(unitOrder, u) {
			extra = append(extra, u)
		}
	}
	slices.Sort(extra)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, unit := range append(slices.Clone(unitOrder), extra...) {
		if !units[unit] {
			continue
		}
		fmt.Fprintf(tw, "%s\t", unit)
		for _, im := range impls {
			fmt.Fprintf(tw, "%s\t", im)
		}
		for _, r := range ratios {
			fmt.Fprintf(tw, "%s/%s\t", r.num, r.den)
		}
		fmt.Fprint(tw, "n\t\n")
		logSum := make([]float64, len(ratios))
		count := make([]int, len(ratios))
		for _, bench := range order {
			byImpl := samples[key{bench, unit}]
			if byImpl == nil {
				continue
			}
			fmt.Fprintf(tw, "%s\t", bench)
			n := 0
			for _, im := range impls {
				xs := byImpl[im]
				if len(xs) == 0 {
					fmt.Fprint(tw, "-\t")
					continue
				}
				n = max(n, len(xs))
				if len(xs) < 2 {
					fmt.Fprintf(tw, "%s\t", format(median(xs)))
				} else {
					fmt.Fprintf(tw, "%s ±%.0f%%\t", format(median(xs)), spread(xs))
				}
			}
			for i, rc := range ratios {
				o, b := byImpl[rc.num], byImpl[rc.den]
				if len(o) > 0 && len(b) > 0 && median(b) != 0 && median(o) != 0 {
					r := median(o) / median(b)
					logSum[i] += math.Log(r)
					count[i]++
					fmt.Fprintf(tw, "%sx\t", formatRatio(r))
				} else {
					fmt.Fprint(tw, "-\t")
				}
			}
			fmt.Fprintf(tw, "%d\t\n", n)
		}
		if slices.Max(count) > 1 {
			fmt.Fprint(tw, "geomean\t"+strings.Repeat("\t", len(impls)))
			for i := range ratios {
				if count[i] > 1 {
					fmt.Fprintf(tw, "%sx\t", formatRatio(math.Exp(logSum[i]/float64(count[i]))))
				} else {
					fmt.Fprint(tw, "-\t")
				}
			}
			fmt.Fprint(tw, "\t\n")
		}
		fmt.Fprintln(tw, strings.Repeat("\t", len(impls)+len(ratios)+2))
	}
	tw.Flush()
}

// format prints v with three significant digits and an SI suffix.
func format(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return fmt.Sprintf("%.3gG", v/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case a >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// formatRatio keeps two significant digits for ratios far below one.
func formatRatio(r float64) string {
	if r < 0.1 {
		return strconv.FormatFloat(r, 'g', 2, 64)
	}
	return strconv.FormatFloat(r, 'f', 2, 64)
}
