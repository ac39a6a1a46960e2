package fedlearn

import (
	"errors"
	"slices"
	"testing"
)

// checkCover verifies that parts are disjoint, non-empty, and cover
// exactly want indices below n.
func checkCover(t *testing.T, parts [][]int, n, want int) {
	t.Helper()
	seen := make([]bool, n)
	total := 0
	for c, p := range parts {
		if len(p) == 0 {
			t.Fatalf("client %d is empty", c)
		}
		for _, i := range p {
			if i < 0 || i >= n || seen[i] {
				t.Fatalf("index %d repeated or out of range", i)
			}
			seen[i] = true
			total++
		}
	}
	if total != want {
		t.Fatalf("%d indices dealt, want %d", total, want)
	}
}

func labelsOf(n, classes int) []int {
	l := make([]int, n)
	for i := range l {
		l[i] = (i * 7) % classes
	}
	return l
}

func TestPartitionIID(t *testing.T) {
	parts, err := PartitionIID(60000, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkCover(t, parts, 60000, 60000)
	for _, p := range parts {
		if len(p) != 600 {
			t.Fatalf("part of %d, want 600", len(p))
		}
	}
	again, _ := PartitionIID(60000, 100, 1)
	if !slices.Equal(parts[7], again[7]) {
		t.Error("not deterministic")
	}
	if _, err := PartitionIID(5, 10, 1); !errors.Is(err, ErrPartition) {
		t.Errorf("err = %v", err)
	}
}

func TestPartitionShards(t *testing.T) {
	labels := labelsOf(60000, 10)
	parts, err := PartitionShards(labels, 100, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkCover(t, parts, 60000, 60000)
	twoOrFewer := 0
	for _, p := range parts {
		if len(p) != 600 {
			t.Fatalf("client has %d examples, want 2 shards of 300", len(p))
		}
		classes := map[int]bool{}
		for _, i := range p {
			classes[labels[i]] = true
		}
		if len(classes) <= 2 {
			twoOrFewer++
		}
	}
	// Shards are label-sorted runs of 300 in classes of 6000: each shard
	// holds one label, so every client sees at most two digits.
	if twoOrFewer != 100 {
		t.Errorf("%d of 100 clients see at most two labels", twoOrFewer)
	}
}

func TestPartitionDirichlet(t *testing.T) {
	labels := labelsOf(5000, 10)
	skew := func(alpha float64) float64 { // mean share of a client's top class
		parts, err := PartitionDirichlet(labels, 20, alpha, 3)
		if err != nil {
			t.Fatal(err)
		}
		checkCover(t, parts, 5000, 5000)
		sum := 0.0
		for _, p := range parts {
			count := map[int]int{}
			top := 0
			for _, i := range p {
				count[labels[i]]++
				top = max(top, count[labels[i]])
			}
			sum += float64(top) / float64(len(p))
		}
		return sum / float64(len(parts))
	}
	low, high := skew(0.1), skew(100)
	if !(low > 0.5 && high < 0.2) {
		t.Errorf("top-class share %.2f at α=0.1 and %.2f at α=100: want strong and weak skew", low, high)
	}
	if _, err := PartitionDirichlet(labels, 20, 0, 1); !errors.Is(err, ErrPartition) {
		t.Errorf("alpha 0: err = %v", err)
	}
}
