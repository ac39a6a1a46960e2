package fedlearn

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// CSVOptions says how ReadCSV maps columns to a Dataset. The zero value
// reads a headerless file whose last column is an integer class label and
// whose other columns are features.
//
// A CSVOptions is a plain value: ReadCSV takes a copy, so one may be shared
// by concurrent calls.
type CSVOptions struct {
	// Header skips the first record.
	Header bool
	// Targets lists the target columns (0-based; negative counts from the
	// end, -1 being the last). Nil means the last column. A classification
	// dataset has exactly one target column.
	Targets []int
	// Regression reads the targets as real values (Dataset.Y) instead of
	// class labels (Dataset.Labels).
	Regression bool
	// Scale multiplies every feature; zero means 1.
	Scale float64
	// Comma is the field separator; zero means ','.
	Comma rune
	// MaxRows stops with an error after this many data rows; zero means no
	// limit.
	MaxRows int
}

// ReadCSV reads a dataset from CSV text (gzipped or not). Every record must
// have the same number of fields and every field must parse as a finite
// number; class labels must be non-negative integers. Errors wrap [ErrData]
// and name the offending line.
func ReadCSV(r io.Reader, opts CSVOptions) (*Dataset, error) {
	r, err := maybeGunzip(r)
	if err != nil {
		return nil, err
	}
	cr := csv.NewReader(r)
	if opts.Comma != 0 {
		cr.Comma = opts.Comma
	}
	cr.ReuseRecord = true
	scale := opts.Scale
	if scale == 0 {
		scale = 1
	}
	d := &Dataset{}
	var isTarget []bool
	var targets []int
	rows := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: csv: %v", ErrData, err)
		}
		line, _ := cr.FieldPos(0)
		if opts.Header && line == 1 {
			continue
		}
		if isTarget == nil {
			isTarget, targets, err = csvTargets(len(rec), opts)
			if err != nil {
				return nil, err
			}
			d.Features = len(rec) - len(targets)
			if opts.Regression {
				d.Outputs = len(targets)
				d.Y = []float64{}
			} else {
				d.Labels = []int{}
			}
		}
		if opts.MaxRows > 0 && rows == opts.MaxRows {
			return nil, fmt.Errorf("%w: csv: more than %d rows", ErrData, opts.MaxRows)
		}
		for i, f := range rec {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, fmt.Errorf("%w: csv line %d field %d: %q is not a finite number", ErrData, line, i+1, f)
			}
			if !isTarget[i] {
				d.X = append(d.X, v*scale)
			}
		}
		for _, t := range targets {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rec[t]), 64)
			if opts.Regression {
				d.Y = append(d.Y, v)
				continue
			}
			if v < 0 || v != math.Trunc(v) || v > 1<<20 {
				return nil, fmt.Errorf("%w: csv line %d: label %v is not a class index", ErrData, line, v)
			}
			d.Labels = append(d.Labels, int(v))
			d.Classes = max(d.Classes, int(v)+1)
		}
		rows++
	}
	if rows == 0 {
		return nil, fmt.Errorf("%w: csv: no data rows", ErrData)
	}
	return d, d.Check()
}

func csvTargets(n int, opts CSVOptions) ([]bool, []int, error) {
	cols := opts.Targets
	if cols == nil {
		cols = []int{-1}
	}
	if !opts.Regression && len(cols) != 1 {
		return nil, nil, fmt.Errorf("%w: csv: classification needs exactly one target column, got %d", ErrData, len(cols))
	}
	is := make([]bool, n)
	var out []int
	for _, c := range cols {
		if c < 0 {
			c += n
		}
		if c < 0 || c >= n || is[c] {
			return nil, nil, fmt.Errorf("%w: csv: target column %d invalid for %d fields", ErrData, c, n)
		}
		is[c] = true
		out = append(out, c)
	}
	if len(out) == n {
		return nil, nil, fmt.Errorf("%w: csv: no feature columns", ErrData)
	}
	return is, out, nil
}
