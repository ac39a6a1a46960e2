package wire_test

import (
	"testing"

	"github.com/hearth-wot/hearth/fedlearn/secagg"
	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// The throughput figures (b.SetBytes) count the float64 parameters in
// memory, 8 bytes each, so encode and decode for both dtypes are
// comparable; divide MB/s by 1000 for GB/s.

func BenchmarkEncodeTensor(b *testing.B) {
	for _, dt := range []wire.DType{wire.Float32, wire.Float64} {
		b.Run(dt.String(), func(b *testing.B) {
			v := ramp(params2NN)
			buf := make([]byte, 0, wire.TensorSize(len(v), dt))
			b.SetBytes(int64(8 * len(v)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = wire.AppendTensor(buf[:0], v, dt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeTensor(b *testing.B) {
	for _, dt := range []wire.DType{wire.Float32, wire.Float64} {
		b.Run(dt.String(), func(b *testing.B) {
			v := ramp(params2NN)
			enc, err := wire.AppendTensor(nil, v, dt)
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]float64, 0, len(v))
			b.SetBytes(int64(8 * len(v)))
			b.ReportAllocs()
			for b.Loop() {
				if dst, err = wire.DecodeTensor(dst[:0], enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCopy is the baseline: a plain copy of the same float64 bytes.
func BenchmarkCopy(b *testing.B) {
	v := ramp(params2NN)
	dst := make([]float64, len(v))
	b.SetBytes(int64(8 * len(v)))
	b.ReportAllocs()
	for b.Loop() {
		copy(dst, v)
	}
}

func BenchmarkMessage(b *testing.B) {
	m := &wire.Message{
		Kind: wire.KindFitResult, Seq: 1, Round: 1, Samples: 600,
		Metrics: map[string]float64{"loss": 0.3, "accuracy": 0.9},
		Tensors: [][]float64{ramp(params2NN)},
	}
	enc, err := m.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		buf := make([]byte, 0, 2*len(enc))
		b.SetBytes(8 * params2NN)
		b.ReportAllocs()
		for b.Loop() {
			if buf, err = m.AppendBinary(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		var got wire.Message
		b.SetBytes(8 * params2NN)
		b.ReportAllocs()
		for b.Loop() {
			if err := got.UnmarshalBinary(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSecAggMasked encodes and decodes a secure-aggregation masked
// input of the 2NN's size (uint32 words).
func BenchmarkSecAggMasked(b *testing.B) {
	v := make([]uint32, params2NN)
	for i := range v {
		v[i] = uint32(i) * 2654435761
	}
	m := &wire.Message{Kind: wire.KindSecAgg, SecAgg: &secagg.MaskedInput{From: 7, Vector: v}}
	enc, err := m.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		buf := make([]byte, 0, 2*len(enc))
		b.SetBytes(4 * params2NN)
		b.ReportAllocs()
		for b.Loop() {
			if buf, err = m.AppendBinary(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(4 * params2NN)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := wire.Unmarshal(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
