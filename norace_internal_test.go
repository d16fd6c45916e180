//go:build !race

package wootric

const raceEnabled = false
