// Package chaos tests the client under randomized faults: several clients
// run random operations on a few keys of a 3-member etcd cluster while a
// seeded nemesis kills, restarts, stops and resumes members and takes
// quorum away; every operation's call, return and outcome is recorded and
// the history is checked for linearizability with porcupine against a
// model of the v2 keys API (model.go). Recursive watchers running through
// the same chaos are checked for exactly-once, in-order delivery.
//
// It is a module of its own so that porcupine stays out of the client's
// dependencies. See the README's Reliability section for what the default
// run covers and how to run a longer one.
package chaos
