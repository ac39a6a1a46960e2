package fedlearn

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// maxIDXElements bounds the element count an IDX header may declare
// (4 Gi); larger files are rejected before anything is allocated.
const maxIDXElements = 1 << 32

// ReadIDX decodes one IDX file (the format of the MNIST distribution) from
// r, transparently gunzipping it if it starts with the gzip magic. It
// returns the dimensions and the elements as float64, row-major. All IDX
// element types are accepted: unsigned byte (0x08), signed byte (0x09),
// int16 (0x0B), int32 (0x0C), float32 (0x0D) and float64 (0x0E).
//
// The header is checked before anything large is allocated, and memory
// grows only as data actually arrives, so a lying header costs nothing.
// Data shorter or longer than the header promises is an error.
// Errors wrap [ErrData].
func ReadIDX(r io.Reader) (dims []int, data []float64, err error) {
	r, err = maybeGunzip(r)
	if err != nil {
		return nil, nil, err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: idx header: %v", ErrData, err)
	}
	if hdr[0] != 0 || hdr[1] != 0 {
		return nil, nil, fmt.Errorf("%w: idx: bad magic %x", ErrData, hdr)
	}
	var size int
	switch hdr[2] {
	case 0x08, 0x09:
		size = 1
	case 0x0B:
		size = 2
	case 0x0C, 0x0D:
		size = 4
	case 0x0E:
		size = 8
	default:
		return nil, nil, fmt.Errorf("%w: idx: unknown element type %#x", ErrData, hdr[2])
	}
	nd := int(hdr[3])
	if nd == 0 {
		return nil, nil, fmt.Errorf("%w: idx: zero dimensions", ErrData)
	}
	raw := make([]byte, 4*nd)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, nil, fmt.Errorf("%w: idx dimensions: %v", ErrData, err)
	}
	dims = make([]int, nd)
	n := uint64(1)
	for i := range dims {
		d := binary.BigEndian.Uint32(raw[4*i:])
		dims[i] = int(d)
		n *= uint64(d)
		if n > maxIDXElements {
			return nil, nil, fmt.Errorf("%w: idx: more than %d elements", ErrData, uint64(maxIDXElements))
		}
	}
	want := int64(n) * int64(size)
	body, err := io.ReadAll(io.LimitReader(r, want+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: idx data: %v", ErrData, err)
	}
	if int64(len(body)) != want {
		return nil, nil, fmt.Errorf("%w: idx: data does not match the %d bytes the header promises", ErrData, want)
	}
	data = make([]float64, n)
	for i := range data {
		b := body[i*size:]
		switch hdr[2] {
		case 0x08:
			data[i] = float64(b[0])
		case 0x09:
			data[i] = float64(int8(b[0]))
		case 0x0B:
			data[i] = float64(int16(binary.BigEndian.Uint16(b)))
		case 0x0C:
			data[i] = float64(int32(binary.BigEndian.Uint32(b)))
		case 0x0D:
			data[i] = float64(math.Float32frombits(binary.BigEndian.Uint32(b)))
		case 0x0E:
			data[i] = math.Float64frombits(binary.BigEndian.Uint64(b))
		}
	}
	return dims, data, nil
}

// maybeGunzip returns a reader of r's content, decompressed when it starts
// with the gzip magic number.
func maybeGunzip(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(2)
	if !bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		return br, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("%w: gzip: %v", ErrData, err)
	}
	return zr, nil
}

// NewIDXDataset builds a classification dataset from decoded IDX images and
// labels, scaling each feature by scale (1/255 maps MNIST pixels to [0,1]).
func NewIDXDataset(imgDims []int, img []float64, lblDims []int, lbl []float64, scale float64) (*Dataset, error) {
	if len(imgDims) < 1 || len(lblDims) != 1 || imgDims[0] != lblDims[0] {
		return nil, fmt.Errorf("%w: idx: image dims %v do not match label dims %v", ErrData, imgDims, lblDims)
	}
	n := imgDims[0]
	if n == 0 {
		return nil, fmt.Errorf("%w: idx: no examples", ErrData)
	}
	feat := len(img) / n
	d := &Dataset{X: img, Features: feat, Labels: make([]int, n)}
	if scale != 1 {
		for i := range d.X {
			d.X[i] *= scale
		}
	}
	for i, v := range lbl {
		if v < 0 || v != math.Trunc(v) || v > 1<<20 {
			return nil, fmt.Errorf("%w: idx: label %d is %v", ErrData, i, v)
		}
		d.Labels[i] = int(v)
		d.Classes = max(d.Classes, int(v)+1)
	}
	return d, d.Check()
}

// LoadMNIST reads the MNIST training and test sets from dir, which holds the
// four original IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte), gzipped (".gz") or not.
// Pixels are scaled to [0,1]; each dataset has 784 features and 10 classes.
func LoadMNIST(dir string) (train, test *Dataset, err error) {
	load := func(prefix string) (*Dataset, error) {
		imgDims, img, err := readIDXFile(filepath.Join(dir, prefix+"-images-idx3-ubyte"))
		if err != nil {
			return nil, err
		}
		lblDims, lbl, err := readIDXFile(filepath.Join(dir, prefix+"-labels-idx1-ubyte"))
		if err != nil {
			return nil, err
		}
		d, err := NewIDXDataset(imgDims, img, lblDims, lbl, 1.0/255)
		if err != nil {
			return nil, err
		}
		d.Classes = 10
		return d, d.Check()
	}
	if train, err = load("train"); err != nil {
		return nil, nil, err
	}
	if test, err = load("t10k"); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// readIDXFile reads name or, when absent, name+".gz".
func readIDXFile(name string) ([]int, []float64, error) {
	f, err := os.Open(name)
	if os.IsNotExist(err) {
		f, err = os.Open(name + ".gz")
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	dims, data, err := ReadIDX(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return dims, data, nil
}
