//go:build !race

package integration

// raceEnabled reports whether the test binary was built with -race; the
// gateway binary is then built with -race too.
const raceEnabled = false
