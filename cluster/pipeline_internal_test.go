package cluster

import "testing"

// TestStreamRecordsStayBounded: a stream that always has deliveries waiting
// for their report (a steady load) reuses its records instead of growing
// with every delivery it has ever sent.
func TestStreamRecordsStayBounded(t *testing.T) {
	st := &stream{}
	const inFlight = 8
	for i := range 100_000 {
		st.compactLocked()
		st.records = append(st.records, record{seq: uint64(i + 1)})
		if len(st.records)-st.head > inFlight {
			st.records[st.head] = record{} // reported on, as resolve leaves it
			st.head++
		}
	}
	if got := len(st.records) - st.head; got != inFlight {
		t.Fatalf("%d deliveries waiting, want %d", got, inFlight)
	}
	if c := cap(st.records); c > 8*inFlight {
		t.Fatalf("after 100,000 deliveries with %d in flight, the records hold room for %d", inFlight, c)
	}
}
