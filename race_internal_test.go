//go:build race

package wootric

// raceEnabled is true under -race, where sync.Pool drops items on purpose.
const raceEnabled = true
