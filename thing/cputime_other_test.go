//go:build !linux

package thing_test

import "time"

// processCPU is unavailable here; benchmarks then omit the CPU metrics.
func processCPU() time.Duration { return 0 }
