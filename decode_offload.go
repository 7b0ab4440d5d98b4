package client

// Unescaping on a second core. When a large answer is decoded into a tree
// (decodeStreamResponse), most of the work is unescaping strings: etcd
// escapes <, > and & as \u003c and the like, and values hold quotes, control
// characters and UTF-8. The decoder's goroutine only finds where such a
// string ends (bytes.IndexByte), copies its raw bytes into a batch and
// walks on; one worker goroutine unescapes the batches into its own string
// blocks and stores each value in its node. Plain ASCII strings, the bulk of
// keys, are still copied by the decoder itself.
//
// Ordering. The worker writes only the string fields it was handed, which
// nothing else writes while it runs: a member repeated within one node (the
// later value wins, as in decodeResponse) first waits for the worker (see
// nodeString). The decoder returns only after the worker has stopped, so the
// caller sees every value, and no goroutine outlives the decode.
//
// Errors. Unescaping can fail (a control character, a bad escape, ...).
// The worker stops at its first failure and keeps it with its body offset;
// since the decoder reads the body in order, the failure to report is the
// one that comes first in the body (see finish).

import (
	"sync"
)

// Batches are small and many so that neither side waits for the other
// when the scheduler briefly runs something else on one core (the
// server's writes, the garbage collector): with 4 batches of 64 KiB a
// 100k-key GET took 32-37 ms, with 32 of 32 KiB 29-32 ms. At most about
// 1.3 MiB of raw strings is held at once.
const (
	offloadBatchBytes = 32 << 10 // raw bytes per batch before it is sent
	offloadBatches    = 32       // batches in use at once, at most
)

// offloadJob is one string for the worker: its raw contents with the
// closing quote, raw[off:end], and where its value goes.
type offloadJob struct {
	dst      *string
	off, end int
	at       int64 // body offset of raw[off]
}

type offloadBatch struct {
	raw  []byte
	jobs []offloadJob
}

// offloadBatchPool keeps batches between decodes: a large answer uses all
// of them, and allocating them anew each time costs more than the rest of
// the offload's bookkeeping.
var offloadBatchPool = sync.Pool{New: func() any {
	return &offloadBatch{raw: make([]byte, 0, offloadBatchBytes+offloadBatchBytes/4)}
}}

// stringOffload is the decoder's side of the worker, used from the
// decoder's goroutine only, and the worker's state.
type stringOffload struct {
	cur      *offloadBatch   // being filled
	spare    []*offloadBatch // neither filled nor in flight
	made     int             // batches taken from the pool
	inFlight int             // sent and not yet returned

	work     chan *offloadBatch // to the worker
	returned chan *offloadBatch // from the worker, done with
	done     chan struct{}      // closed when the worker has stopped

	err *decodeError // the worker's first failure; read after done
}

// add hands the string whose raw contents and closing quote are raw,
// starting at body offset at, to the worker, which will store its value in
// *dst.
func (o *stringOffload) add(dst *string, raw []byte, at int64) {
	if o.cur == nil {
		o.cur = o.batch()
	}
	b := o.cur
	off := len(b.raw)
	b.raw = append(b.raw, raw...)
	b.jobs = append(b.jobs, offloadJob{dst: dst, off: off, end: len(b.raw), at: at})
	if len(b.raw) >= offloadBatchBytes {
		o.send()
	}
}

// batch returns an empty batch, waiting for the worker to return one when
// all are in use.
func (o *stringOffload) batch() *offloadBatch {
	if n := len(o.spare); n > 0 {
		b := o.spare[n-1]
		o.spare = o.spare[:n-1]
		return b
	}
	if o.made < offloadBatches {
		o.made++
		return offloadBatchPool.Get().(*offloadBatch)
	}
	b := <-o.returned
	o.inFlight--
	return b
}

func (o *stringOffload) send() {
	if o.work == nil { // the first batch starts the worker
		o.work = make(chan *offloadBatch, offloadBatches)
		o.returned = make(chan *offloadBatch, offloadBatches)
		o.done = make(chan struct{})
		go o.run()
	}
	o.work <- o.cur
	o.inFlight++
	o.cur = nil
}

// wait returns once every string handed over so far has its value.
func (o *stringOffload) wait() {
	if o.cur != nil && len(o.cur.jobs) > 0 {
		o.send()
	}
	for ; o.inFlight > 0; o.inFlight-- {
		o.spare = append(o.spare, <-o.returned)
	}
}

// finish waits for every value, stops the worker, and returns the error
// to report for a decode that ended with err: the worker's failure if it
// comes first in the body, else err.
func (o *stringOffload) finish(err error) error {
	o.wait()
	if o.done != nil {
		close(o.work)
		<-o.done
	}
	for _, b := range o.spare {
		if cap(b.raw) <= 2*offloadBatchBytes { // not one grown for a huge string
			offloadBatchPool.Put(b)
		}
	}
	o.spare = nil
	if o.err == nil {
		return err
	}
	if de, ok := err.(*decodeError); ok && de.off < o.err.off {
		return err
	}
	// Any other failure (a read error, a body too large, the end of the
	// body) happened after the string the worker failed on was read.
	return o.err
}

// run is the worker.
func (o *stringOffload) run() {
	defer close(o.done)
	var d decoder
	var block []byte
	for b := range o.work {
		if o.err == nil {
			d.buf = b.raw
			for _, j := range b.jobs {
				if need := j.end - j.off + 16; cap(block)-len(block) < need {
					block = make([]byte, 0, max(need, streamStrBlock))
				}
				from := len(block)
				var err error
				block, err = d.appendUnescaped(block, j.off)
				if err != nil {
					de, ok := err.(*decodeError)
					if !ok { // appendUnescaped fails only with decodeErrors
						de = &decodeError{j.off, err.Error()}
					}
					de.off = int(j.at) + de.off - j.off
					o.err = de
					break
				}
				*j.dst = blockString(block[from:])
			}
		}
		b.raw, b.jobs = b.raw[:0], clearJobs(b.jobs)
		o.returned <- b
	}
}

// clearJobs empties jobs, dropping its pointers into the tree.
func clearJobs(jobs []offloadJob) []offloadJob {
	clear(jobs)
	return jobs[:0]
}
