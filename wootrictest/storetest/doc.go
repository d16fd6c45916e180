// Package storetest checks a wootric.Deduplicator, as testing/fstest checks
// a file system: every store, the memory one and those of modules
// redisdedup and pgdedup included, passes TestDeduplicator, the contract's
// conformance suite, which also runs TestReplicas (three Handlers as
// replicas on the store, one dying mid-run) and TestFaults (four replicas,
// with faults in the store, the callbacks and next). BenchmarkDeduplicator
// measures a delivery's cost with the store.
//
//	func TestStore(t *testing.T) {
//		storetest.TestDeduplicator(t, mystore.New(...))
//	}
//
// A receiver's own tests need package wootrictest, not this one.
package storetest
