package chaos

import "testing"

func TestWatchProblems(t *testing.T) {
	acked := func(value string, idx uint64) Record {
		return Record{In: Input{Kind: Set, Key: "/chaos/k0", Value: value}, Out: Output{Result: OK, Index: idx}}
	}
	recs := []Record{acked("a", 11), acked("b", 12), acked("c", 14),
		{In: Input{Kind: Set, Key: "/chaos/k1", Value: "u"}, Out: Output{Result: Unknown}, Ret: Never}}
	ev := func(idx uint64, value string) watchEvent {
		return watchEvent{Index: idx, Key: "/chaos/k0", Action: "set", Value: value}
	}
	tests := []struct {
		name     string
		events   []watchEvent
		cleared  []gap
		problems int
		twice    int
	}{
		{"everything once, in order, unacknowledged write included", []watchEvent{ev(11, "a"), ev(12, "b"), ev(13, "u"), ev(14, "c")}, nil, 0, 0},
		{"silent gap", []watchEvent{ev(11, "a"), ev(14, "c")}, nil, 1, 0},
		{"reported gap", []watchEvent{ev(11, "a"), ev(14, "c")}, []gap{{After: 11, Resume: 13}}, 0, 0},
		{"event inside a reported gap", []watchEvent{ev(11, "a"), ev(12, "b"), ev(14, "c")}, []gap{{After: 11, Resume: 13}}, 1, 0},
		{"duplicate", []watchEvent{ev(11, "a"), ev(12, "b"), ev(12, "b"), ev(14, "c")}, nil, 1, 0},
		{"out of order", []watchEvent{ev(12, "b"), ev(11, "a"), ev(14, "c")}, nil, 1, 0},
		{"wrong value", []watchEvent{ev(11, "a"), ev(12, "c"), ev(14, "c")}, nil, 1, 1},
		{"phantom value", []watchEvent{ev(11, "a"), ev(12, "b"), ev(13, "zz"), ev(14, "c")}, nil, 1, 0},
		{"a write applied twice", []watchEvent{ev(11, "a"), ev(12, "b"), ev(13, "a"), ev(14, "c")}, nil, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &watchLog{name: "w", start: 10, events: tt.events, cleared: tt.cleared}
			problems, twice := watchProblems(l, recs, 14)
			if len(problems) != tt.problems || len(twice) != tt.twice {
				t.Errorf("problems %q, twice %q; want %d and %d", problems, twice, tt.problems, tt.twice)
			}
		})
	}
}

func TestCompareWatchers(t *testing.T) {
	a := &watchLog{name: "a", start: 10, events: []watchEvent{{Index: 11}, {Index: 13}, {Index: 15}}}
	b := &watchLog{name: "b", start: 10, events: []watchEvent{{Index: 11}, {Index: 15}}}
	if got := compareWatchers(a, b, 20); len(got) != 1 {
		t.Errorf("got %q, want b's silent skip of 13", got)
	}
	b.cleared = []gap{{After: 11, Resume: 14}}
	if got := compareWatchers(a, b, 20); len(got) != 0 {
		t.Errorf("got %q, want nothing: b reported 12-14 cleared", got)
	}
}
