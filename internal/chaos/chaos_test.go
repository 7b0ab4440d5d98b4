package chaos

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// workers is the number of separate clients running operations.
const workers = 6

// faultNotes marks the faults on porcupine's visualization.
func faultNotes(faults []Fault) []porcupine.Annotation {
	var out []porcupine.Annotation
	for _, f := range faults {
		out = append(out, porcupine.Annotation{Tag: "nemesis", Start: f.Start, End: f.End,
			Description: f.Kind + " " + strings.Join(f.Members, ","), BackgroundColor: "#f6c6c6"})
	}
	return out
}

// checkIndexes fails t for every contradiction between indexes and real
// time across keys.
func checkIndexes(t *testing.T, seed int64, res *runResult) {
	t.Helper()
	for _, v := range CheckIndexOrder(res.recs) {
		t.Errorf("seed %d: index order contradicts real time: %v", seed, v)
	}
}

// Claim 1: with Config.OneShotWrites, every history is linearizable, and
// no write that is not conditioned on an index had two copies that may have
// reached a member (of those with a value; see checkSentOnce).
func TestChaosOneShotWritesLinearizable(t *testing.T) {
	s := loadSettings(t)
	seeds, length := s.runs()
	var total stats
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			res := runChaos(t, runConfig{seed: seed, length: length, oneShot: true, workers: workers})
			var st stats
			st.add(res)
			total.add(res)
			t.Logf("seed %d: %v", seed, st)
			checkSentOnce(t, seed, res, Create, Set, CASValue, CreateInOrder)
			checkLinearizable(t, s, seed, length, res, "oneshot")
		})
	}
	t.Logf("claim 1 (OneShotWrites): %d runs of %v, %v", len(seeds), length, total)
}

// checkLinearizable fails t unless every key's history of res is
// linearizable and indexes agree with real time.
func checkLinearizable(t *testing.T, s settings, seed int64, length time.Duration, res *runResult, tag string) {
	t.Helper()
	keys, recs := byKey(res.recs)
	for _, key := range keys {
		v, witness := checkKey(t, s, recs[key], res.faults, nil, visName(seed, tag, key), s.checkTimeout)
		switch v.Result {
		case porcupine.Illegal:
			t.Errorf("seed %d: history of %s is not linearizable %s; visualization: %s (replay: CHAOS_SEED=%d CHAOS_DURATION=%v)", seed, key, witness, v.Visualization, seed, length)
			if _, doubled := Witness(recs[key]); len(doubled) > 0 {
				writers := map[int]int{}
				for i, r := range recs[key] {
					if r.In.Kind.isWrite() && doubled[r.In.Value] {
						writers[i] = 1
					}
				}
				t.Logf("seed %d: the history of the values seen under two indexes:\n%s", seed, valueHistory(recs[key], writers))
			}
		case porcupine.Unknown:
			t.Errorf("seed %d: the check of %s did not finish within %v: inconclusive; partial visualization: %s", seed, key, s.checkTimeout, v.Visualization)
		}
	}
	checkIndexes(t, seed, res)
}

// strictTimeout bounds the check of a default-config history as recorded:
// one with a write applied twice can take long to prove illegal, and a
// witness usually proves it at once.
const strictTimeout = 30 * time.Second

// Claim 2: with the default config, every violation involves a write that
// was resent after its first copy may have reached a member. A history that
// is not linearizable as recorded must become linearizable once the resent
// writes the documentation warns about (plain and PrevValue Set,
// CreateInOrder) may apply once per copy that may have reached a member. A
// Create, like a plain Delete, is not among them: it is never sent again
// once a copy may have reached a member (a resent Create was once found
// applied twice here, bringing its key back after a delete); no Create may
// have two such copies.
func TestChaosDefaultViolationsAreResentWrites(t *testing.T) {
	s := loadSettings(t)
	seeds, length := s.runs()
	var total stats
	var runsWithViolation, violations, resent int
	var found []string
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			res := runChaos(t, runConfig{seed: seed, length: length, workers: workers})
			var st stats
			st.add(res)
			total.add(res)
			ghosts := resentGhosts(res, true)
			resent += len(ghosts)
			t.Logf("seed %d: %v; %d writes resent after a copy may have reached a member", seed, st, len(ghosts))
			checkSentOnce(t, seed, res, Create)
			checkIndexes(t, seed, res)
			keys, recs := byKey(res.recs)
			violated := false
			for _, key := range keys {
				v, witness := checkKey(t, s, recs[key], res.faults, nil, visName(seed, "default", key), min(strictTimeout, s.checkTimeout))
				switch v.Result {
				case porcupine.Ok:
					continue
				case porcupine.Unknown:
					t.Errorf("seed %d: the check of %s did not finish within %v: inconclusive; partial visualization: %s", seed, key, min(strictTimeout, s.checkTimeout), v.Visualization)
					continue
				}
				violated = true
				violations++
				explained, how := explain(t, s, recs[key], res.faults, remap(res.recs, key, ghosts), remap(res.recs, key, resentGhosts(res, false)))
				if !explained {
					t.Errorf("seed %d: history of %s is not linearizable %s, %s: a violation beyond the documented risk; visualization: %s (replay: CHAOS_SEED=%d CHAOS_DURATION=%v)",
						seed, key, witness, how, v.Visualization, seed, length)
					continue
				}
				msg := fmt.Sprintf("seed %d: %s not linearizable %s; explained by %s; visualization: %s", seed, key, witness, how, v.Visualization)
				found = append(found, msg)
				t.Log(msg)
			}
			if violated {
				runsWithViolation++
			}
		})
	}
	t.Logf("claim 2 (default config): %d runs of %v, %v; %d resent writes; %d runs with a violation, %d key histories not linearizable",
		len(seeds), length, total, resent, runsWithViolation, violations)
	for _, f := range found {
		t.Log(f)
	}
}

// visName names the visualization of one key's history.
func visName(seed int64, tag, key string) string {
	return fmt.Sprintf("seed-%d-%s-%s", seed, tag, filepath.Base(key))
}

// explain looks for the resent writes whose extra copies make one key's
// history (recs) linearizable: first the documented ones (see
// resentGhosts) whose values were seen under two indexes, then all
// documented ones. If neither does, it says whether all resent writes
// (the compare-and-swaps and compare-and-deletes by index too) would.
func explain(t *testing.T, s settings, recs []Record, faults []Fault, documented, all map[int]int) (bool, string) {
	t.Helper()
	describe := func(g map[int]int) string {
		var idx []int
		for i := range g {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		var out []string
		for _, i := range idx {
			r := recs[i]
			out = append(out, fmt.Sprintf("%s op %d: %s(%s) by client %d, %d copies may have reached a member, outcome %s",
				r.In.Key, i, r.In.Kind, r.In.Value, r.Client, g[i]+1, outcomeText(r)))
		}
		return strings.Join(out, "; ")
	}
	_, doubled := Witness(recs)
	seen := map[int]int{}
	for i, n := range documented {
		if doubled[recs[i].In.Value] {
			seen[i] = n
		}
	}
	if len(seen) > 0 {
		if v, _ := checkKey(t, s, recs, faults, seen, "", s.checkTimeout); v.Result == porcupine.Ok {
			return true, "extra copies of the resent writes seen applied twice: " + describe(seen)
		}
	}
	v, _ := checkKey(t, s, recs, faults, documented, "", s.checkTimeout)
	switch v.Result {
	case porcupine.Ok:
		return true, "extra copies of these resent writes: " + describe(documented)
	case porcupine.Unknown:
		return false, fmt.Sprintf("and the check with extra copies of the %d resent writes did not finish within %v", len(documented), s.checkTimeout)
	}
	others := map[int]int{}
	for i, n := range all {
		if _, ok := documented[i]; !ok && doubled[recs[i].In.Value] {
			others[i] = n
		}
	}
	if len(others) > 0 {
		if v, _ := checkKey(t, s, recs, faults, merge(documented, others), "", s.checkTimeout); v.Result == porcupine.Ok {
			return false, "not explained by the documented resent writes, but by these resent writes seen applied twice, which the documentation says cannot apply twice: " +
				describe(others) + "; the history of their values:\n" + valueHistory(recs, others)
		}
	}
	if v, _ := checkKey(t, s, recs, faults, all, "", s.checkTimeout); v.Result == porcupine.Ok {
		for i, n := range all {
			if _, ok := documented[i]; !ok {
				others[i] = n
			}
		}
		return false, "not explained by the documented resent writes, but by these other resent writes, which the documentation says cannot apply twice: " + describe(others)
	}
	return false, "not explained by any resent write"
}

// merge returns the union of two ghost maps.
func merge(a, b map[int]int) map[int]int {
	out := map[int]int{}
	for i, n := range a {
		out[i] = n
	}
	for i, n := range b {
		out[i] = n
	}
	return out
}

// valueHistory lists, one per line, the records of one key from the first
// to the last that mentions a value written by the records in ops, at most
// 40: what a reader needs to see a write applied twice.
func valueHistory(recs []Record, ops map[int]int) string {
	values := map[string]bool{}
	for i := range ops {
		values[recs[i].In.Value] = true
	}
	first, last := -1, -1
	for i, r := range recs {
		if values[r.In.Value] || values[r.Out.Value] || values[r.Out.PrevValue] {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	var b strings.Builder
	for i := first; i >= 0 && i <= last && i < first+40; i++ {
		r := recs[i]
		ret := "never (unknown outcome)"
		if r.Ret != Never {
			ret = time.Duration(r.Ret).Round(time.Millisecond).String()
		}
		fmt.Fprintf(&b, "    op %d client %d [%v, %s] %s\n", i, r.Client, time.Duration(r.Call).Round(time.Millisecond), ret, describeOperation(r.In, r.Out))
	}
	return b.String()
}

func outcomeText(r Record) string {
	switch r.Out.Result {
	case OK:
		return fmt.Sprintf("ok at %d", r.Out.Index)
	case Failed:
		return fmt.Sprintf("error %d", r.Out.Code)
	}
	return "unknown: " + strings.TrimSpace(strings.ReplaceAll(r.Err, "\n", " "))
}

// remap translates ghost counts indexed by record in the whole history to
// indexes among key's records.
func remap(recs []Record, key string, g map[int]int) map[int]int {
	out := map[int]int{}
	j := 0
	for i, r := range recs {
		if r.In.Key != key {
			continue
		}
		if n := g[i]; n > 0 {
			out[j] = n
		}
		j++
	}
	return out
}

// Claim 3: a recursive watcher running through the chaos delivers every
// acknowledged write exactly once, in index order, or reports the history
// cleared, and never leaves a silent gap; for the default Watcher and for
// Stream: true.
func TestChaosWatchersDeliverEverything(t *testing.T) {
	s := loadSettings(t)
	seeds, length := s.runs()
	var total stats
	var sum watchSummary
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			res := runChaos(t, runConfig{seed: seed, length: length, workers: workers, watchers: true})
			var st stats
			st.add(res)
			total.add(res)
			t.Logf("seed %d: %v", seed, st)
			sum.check(t, seed, res)
		})
	}
	t.Logf("claim 3 (watchers): %d runs of %v, %v; %v", len(seeds), length, total, &sum)
	for _, tw := range sum.twice {
		t.Log(tw)
	}
}

// watchSummary adds up what the watchers of several runs did.
type watchSummary struct {
	delivered, cleared map[string]int
	errs               map[string]map[string]int
	twice              []string
}

// check fails t for every problem of the watchers of res (see
// watchProblems and compareWatchers) and adds them to the summary.
func (sum *watchSummary) check(t *testing.T, seed int64, res *runResult) {
	t.Helper()
	if sum.delivered == nil {
		sum.delivered, sum.cleared, sum.errs = map[string]int{}, map[string]int{}, map[string]map[string]int{}
	}
	for _, l := range res.watches {
		if !l.reached {
			t.Errorf("seed %d: %s did not deliver the end marker (index %d); last events: %v", seed, l.name, res.endIndex, tail(l.events, 3))
		}
		problems, twice := watchProblems(l, res.recs, res.endIndex)
		for _, p := range problems {
			t.Errorf("seed %d: %s", seed, p)
		}
		for _, tw := range twice {
			sum.twice = append(sum.twice, fmt.Sprintf("seed %d: %s saw a write applied twice: %s", seed, l.name, tw))
		}
		sum.delivered[l.name] += len(l.events)
		sum.cleared[l.name] += len(l.cleared)
		if sum.errs[l.name] == nil {
			sum.errs[l.name] = map[string]int{}
		}
		for k, n := range l.errs {
			sum.errs[l.name][k] += n
		}
		t.Logf("seed %d: %s: %d events, %d cleared ranges, errors retried: %v", seed, l.name, len(l.events), len(l.cleared), l.errs)
	}
	if len(res.watches) == 2 {
		for _, p := range compareWatchers(res.watches[0], res.watches[1], res.endIndex) {
			t.Errorf("seed %d: %s", seed, p)
		}
	}
}

func (sum *watchSummary) String() string {
	return fmt.Sprintf("delivered %v; cleared ranges %v; errors retried %v", sum.delivered, sum.cleared, sum.errs)
}

func tail(evs []watchEvent, n int) []watchEvent {
	if len(evs) > n {
		return evs[len(evs)-n:]
	}
	return evs
}
