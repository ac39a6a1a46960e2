package fedlearn

import (
	"errors"
	"fmt"
	"math/rand/v2"
)

// Dataset is an in-memory table of examples: a row-major feature matrix and
// either class labels (classification) or real-valued targets (regression).
//
// Exactly one of Labels and Targets is set. A Dataset is read-only once
// built and may then be shared by concurrent readers; the built-in trainers
// never modify it.
type Dataset struct {
	// X holds Len()*Features feature values, row-major.
	X []float64
	// Features is the number of feature columns.
	Features int
	// Labels holds one class index per row for classification, each in
	// [0, Classes).
	Labels []int
	// Classes is the number of classes of a classification dataset.
	Classes int
	// Y holds Len()*Outputs target values, row-major, for regression.
	Y []float64
	// Outputs is the number of target columns of a regression dataset.
	Outputs int
}

// ErrData is wrapped by errors about malformed or inconsistent datasets and
// data files.
var ErrData = errors.New("fedlearn: bad data")

// Len returns the number of examples.
func (d *Dataset) Len() int {
	if d == nil || d.Features == 0 {
		return 0
	}
	return len(d.X) / d.Features
}

// Row returns the features of example i (a view, not a copy).
func (d *Dataset) Row(i int) []float64 {
	return d.X[i*d.Features : (i+1)*d.Features]
}

// Check reports whether d is internally consistent.
func (d *Dataset) Check() error {
	if d == nil {
		return fmt.Errorf("%w: nil dataset", ErrData)
	}
	if d.Features <= 0 {
		return fmt.Errorf("%w: %d features", ErrData, d.Features)
	}
	if len(d.X)%d.Features != 0 {
		return fmt.Errorf("%w: %d values do not fill rows of %d features", ErrData, len(d.X), d.Features)
	}
	n := len(d.X) / d.Features
	switch {
	case d.Labels != nil && d.Y != nil:
		return fmt.Errorf("%w: both labels and targets set", ErrData)
	case d.Labels != nil:
		if len(d.Labels) != n {
			return fmt.Errorf("%w: %d labels for %d rows", ErrData, len(d.Labels), n)
		}
		if d.Classes <= 0 {
			return fmt.Errorf("%w: %d classes", ErrData, d.Classes)
		}
		for i, l := range d.Labels {
			if l < 0 || l >= d.Classes {
				return fmt.Errorf("%w: row %d: label %d outside [0,%d)", ErrData, i, l, d.Classes)
			}
		}
	case d.Y != nil:
		if d.Outputs <= 0 || len(d.Y) != n*d.Outputs {
			return fmt.Errorf("%w: %d targets for %d rows of %d outputs", ErrData, len(d.Y), n, d.Outputs)
		}
	default:
		return fmt.Errorf("%w: neither labels nor targets", ErrData)
	}
	return nil
}

// Subset returns a new Dataset holding copies of the rows with the given
// indices, in that order.
func (d *Dataset) Subset(idx []int) *Dataset {
	s := &Dataset{
		X:        make([]float64, 0, len(idx)*d.Features),
		Features: d.Features,
		Classes:  d.Classes,
		Outputs:  d.Outputs,
	}
	if d.Labels != nil {
		s.Labels = make([]int, 0, len(idx))
	}
	if d.Y != nil {
		s.Y = make([]float64, 0, len(idx)*d.Outputs)
	}
	for _, i := range idx {
		s.X = append(s.X, d.Row(i)...)
		if d.Labels != nil {
			s.Labels = append(s.Labels, d.Labels[i])
		}
		if d.Y != nil {
			s.Y = append(s.Y, d.Y[i*d.Outputs:(i+1)*d.Outputs]...)
		}
	}
	return s
}

// Split divides d into two datasets: the first holds the first n rows, the
// second the rest. Both share d's memory.
func (d *Dataset) Split(n int) (*Dataset, *Dataset) {
	n = min(max(n, 0), d.Len())
	a, b := *d, *d
	a.X, b.X = d.X[:n*d.Features], d.X[n*d.Features:]
	if d.Labels != nil {
		a.Labels, b.Labels = d.Labels[:n], d.Labels[n:]
	}
	if d.Y != nil {
		a.Y, b.Y = d.Y[:n*d.Outputs], d.Y[n*d.Outputs:]
	}
	return &a, &b
}

// Shuffled returns a copy of d with its rows in a random order drawn from
// seed.
func (d *Dataset) Shuffled(seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	return d.Subset(rng.Perm(d.Len()))
}
