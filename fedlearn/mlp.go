package fedlearn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// Loss selects an MLP's output layer and loss function.
//
// A Loss is an immutable value, safe for concurrent use.
type Loss int

const (
	// CrossEntropy is a softmax output with cross-entropy loss, for
	// classification with integer labels.
	CrossEntropy Loss = iota
	// SquaredError is a linear output with mean squared error loss, for
	// regression with real-valued targets.
	SquaredError
)

// String returns "cross-entropy" or "squared-error".
func (l Loss) String() string {
	switch l {
	case CrossEntropy:
		return "cross-entropy"
	case SquaredError:
		return "squared-error"
	}
	return fmt.Sprintf("Loss(%d)", int(l))
}

// ErrModel is wrapped by errors about model shapes and parameter vectors
// that do not fit a model.
var ErrModel = errors.New("fedlearn: model mismatch")

// MLP is a fully connected feed-forward network with ReLU hidden layers,
// stored as one flat parameter vector: for each layer in turn, its weight
// matrix (inputs × outputs, row-major) followed by its bias vector. An MLP
// with no hidden layer is softmax (or linear) regression.
//
// An MLP describes an architecture; parameters live outside it. It is safe
// for concurrent use: trainers built from it share only a pool of scratch
// buffers.
type MLP struct {
	sizes []int
	loss  Loss
	n     int
	pool  sync.Pool // of *workspace
}

// NewMLP returns an MLP with the given layer sizes (inputs, hidden...,
// outputs) and loss. It needs at least an input and an output size, all
// positive; a cross-entropy model needs at least two outputs.
func NewMLP(loss Loss, sizes ...int) (*MLP, error) {
	if len(sizes) < 2 {
		return nil, fmt.Errorf("%w: need input and output sizes, got %v", ErrModel, sizes)
	}
	n := 0
	for i, s := range sizes {
		if s <= 0 || s > 1<<24 {
			return nil, fmt.Errorf("%w: layer %d has size %d", ErrModel, i, s)
		}
		if i > 0 {
			n += sizes[i-1]*s + s
		}
	}
	if n > 1<<31-1 {
		return nil, fmt.Errorf("%w: %d parameters is too many", ErrModel, n)
	}
	switch loss {
	case CrossEntropy:
		if sizes[len(sizes)-1] < 2 {
			return nil, fmt.Errorf("%w: cross-entropy needs at least 2 classes", ErrModel)
		}
	case SquaredError:
	default:
		return nil, fmt.Errorf("%w: unknown loss %v", ErrModel, loss)
	}
	return &MLP{sizes: append([]int(nil), sizes...), loss: loss, n: n}, nil
}

func mustMLP(loss Loss, sizes ...int) *MLP {
	m, err := NewMLP(loss, sizes...)
	if err != nil {
		panic(err)
	}
	return m
}

// SoftmaxRegression returns a multinomial logistic regression model: a
// single softmax layer from features to classes.
func SoftmaxRegression(features, classes int) *MLP {
	return mustMLP(CrossEntropy, features, classes)
}

// TwoNN returns the "2NN" of McMahan et al. (2017): an MLP for MNIST with
// two hidden layers of 200 ReLU units (784-200-200-10, 199,210 parameters).
func TwoNN() *MLP { return mustMLP(CrossEntropy, 784, 200, 200, 10) }

// NewRegressor returns a regression MLP (linear output, squared error) from
// features through the hidden layer sizes to outputs. With no hidden
// layers it is linear regression.
func NewRegressor(features int, hidden []int, outputs int) (*MLP, error) {
	sizes := append(append([]int{features}, hidden...), outputs)
	return NewMLP(SquaredError, sizes...)
}

// NumParams returns the length of the model's parameter vector.
func (m *MLP) NumParams() int { return m.n }

// Sizes returns the layer sizes, inputs first.
func (m *MLP) Sizes() []int { return append([]int(nil), m.sizes...) }

// Loss returns the model's loss.
func (m *MLP) Loss() Loss { return m.loss }

// String describes the model, like "mlp 784-200-200-10 cross-entropy".
func (m *MLP) String() string {
	s := "mlp "
	for i, n := range m.sizes {
		if i > 0 {
			s += "-"
		}
		s += fmt.Sprint(n)
	}
	return s + " " + m.loss.String()
}

// Init returns initial parameters drawn deterministically from seed: every
// weight and bias uniform in ±1/√fan-in.
func (m *MLP) Init(seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0x1417))
	p := make([]float64, m.n)
	off := 0
	for l := 1; l < len(m.sizes); l++ {
		in, out := m.sizes[l-1], m.sizes[l]
		bound := 1 / math.Sqrt(float64(in))
		for i := range in*out + out {
			p[off+i] = (2*rng.Float64() - 1) * bound
		}
		off += in*out + out
	}
	return p
}

// layer returns views of layer l's weights and biases within p.
func (m *MLP) layer(p []float64, l int) (w, b []float64) {
	off := 0
	for i := 1; i <= l; i++ {
		off += m.sizes[i-1]*m.sizes[i] + m.sizes[i]
	}
	in, out := m.sizes[l], m.sizes[l+1]
	return p[off : off+in*out], p[off+in*out : off+in*out+out]
}

// checkData reports whether d fits the model's inputs and outputs.
func (m *MLP) checkData(d *Dataset) error {
	if err := d.Check(); err != nil {
		return err
	}
	if d.Features != m.sizes[0] {
		return fmt.Errorf("%w: data has %d features, model takes %d", ErrModel, d.Features, m.sizes[0])
	}
	out := m.sizes[len(m.sizes)-1]
	switch m.loss {
	case CrossEntropy:
		if d.Labels == nil || d.Classes > out {
			return fmt.Errorf("%w: classifier with %d outputs needs labels below %d", ErrModel, out, out)
		}
	case SquaredError:
		if d.Y == nil || d.Outputs != out {
			return fmt.Errorf("%w: regressor with %d outputs needs %d targets per row", ErrModel, out, out)
		}
	}
	return nil
}

// workspace holds the scratch buffers of one forward/backward pass over a
// batch of up to cap rows, so that training allocates nothing per batch.
type workspace struct {
	rows   int         // batch capacity
	x      []float64   // rows × inputs
	acts   [][]float64 // per layer l: rows × sizes[l+1]
	deltas [][]float64 // per layer l: rows × sizes[l+1]
	grad   []float64   // n
	w0     []float64   // n, the global parameters (FedProx)
	vel    []float64   // n, momentum
	idx    []int
}

func (m *MLP) getWorkspace(rows int) *workspace {
	ws, _ := m.pool.Get().(*workspace)
	if ws == nil {
		ws = &workspace{grad: make([]float64, m.n)}
	}
	if ws.rows < rows {
		ws.rows = rows
		ws.x = make([]float64, rows*m.sizes[0])
		ws.acts = make([][]float64, len(m.sizes)-1)
		ws.deltas = make([][]float64, len(m.sizes)-1)
		for l := range ws.acts {
			ws.acts[l] = make([]float64, rows*m.sizes[l+1])
			ws.deltas[l] = make([]float64, rows*m.sizes[l+1])
		}
	}
	return ws
}

// forward computes the output of the first rows rows of ws.x into
// ws.acts[L-1]: probabilities for cross-entropy, values for squared error.
func (m *MLP) forward(p []float64, ws *workspace, rows int) {
	in := ws.x
	L := len(m.sizes) - 1
	for l := range L {
		din, dout := m.sizes[l], m.sizes[l+1]
		w, b := m.layer(p, l)
		out := ws.acts[l][:rows*dout]
		for r := range rows {
			copy(out[r*dout:(r+1)*dout], b)
		}
		gemm(blas.NoTrans, blas.NoTrans, rows, dout, din, 1, in, din, w, dout, 1, out, dout)
		if l < L-1 {
			for i, v := range out {
				if v < 0 {
					out[i] = 0
				}
			}
		}
		in = out
	}
	if m.loss == CrossEntropy {
		k := m.sizes[L]
		out := ws.acts[L-1]
		for r := range rows {
			softmax(out[r*k : (r+1)*k])
		}
	}
}

func softmax(z []float64) {
	mx := z[0]
	for _, v := range z[1:] {
		mx = max(mx, v)
	}
	sum := 0.0
	for i, v := range z {
		e := math.Exp(v - mx)
		z[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range z {
		z[i] *= inv
	}
}

// lossAndDelta scores the output of a forward pass against the targets of
// the given rows of d, writes the output gradient of the mean loss into
// ws.deltas[L-1], and returns the summed loss and the number of correctly
// classified rows.
func (m *MLP) lossAndDelta(d *Dataset, rowsIdx []int, ws *workspace, wantDelta bool) (loss float64, correct int) {
	L := len(m.sizes) - 1
	k := m.sizes[L]
	out := ws.acts[L-1]
	delta := ws.deltas[L-1]
	rows := len(rowsIdx)
	inv := 1 / float64(rows)
	switch m.loss {
	case CrossEntropy:
		for r, i := range rowsIdx {
			p := out[r*k : (r+1)*k]
			y := d.Labels[i]
			loss -= math.Log(max(p[y], 1e-300))
			best := 0
			for j, v := range p {
				if v > p[best] {
					best = j
				}
			}
			if best == y {
				correct++
			}
			if wantDelta {
				dl := delta[r*k : (r+1)*k]
				for j, v := range p {
					dl[j] = v * inv
				}
				dl[y] -= inv
			}
		}
	case SquaredError:
		scale := 2 * inv / float64(k)
		for r, i := range rowsIdx {
			o := out[r*k : (r+1)*k]
			y := d.Y[i*k : (i+1)*k]
			se := 0.0
			for j := range o {
				e := o[j] - y[j]
				se += e * e
				if wantDelta {
					delta[r*k+j] = scale * e
				}
			}
			loss += se / float64(k)
		}
	}
	return loss, correct
}

// backward computes the gradient of the mean batch loss into ws.grad, given
// the output gradient in ws.deltas[L-1].
func (m *MLP) backward(p []float64, ws *workspace, rows int) {
	L := len(m.sizes) - 1
	for l := L - 1; l >= 0; l-- {
		din, dout := m.sizes[l], m.sizes[l+1]
		prev := ws.x
		if l > 0 {
			prev = ws.acts[l-1]
		}
		delta := ws.deltas[l][:rows*dout]
		gw, gb := m.layer(ws.grad, l)
		gemm(blas.Trans, blas.NoTrans, din, dout, rows, 1, prev, din, delta, dout, 0, gw, dout)
		copy(gb, delta[:dout])
		for r := 1; r < rows; r++ {
			row := delta[r*dout : (r+1)*dout]
			for j, v := range row {
				gb[j] += v
			}
		}
		if l == 0 {
			break
		}
		w, _ := m.layer(p, l)
		next := ws.deltas[l-1][:rows*din]
		gemm(blas.NoTrans, blas.Trans, rows, din, dout, 1, delta, dout, w, dout, 0, next, din)
		a := ws.acts[l-1][:rows*din]
		for i, v := range a {
			if v <= 0 {
				next[i] = 0
			}
		}
	}
}

// gather copies the features of the given rows of d into ws.x.
func gather(d *Dataset, rows []int, ws *workspace) {
	f := d.Features
	for r, i := range rows {
		copy(ws.x[r*f:(r+1)*f], d.X[i*f:(i+1)*f])
	}
}

// Evaluate computes the mean loss and accuracy (or, for regression, the
// mean squared error, "mae" and "rmse") of params on d.
func (m *MLP) Evaluate(ctx context.Context, params []float64, d *Dataset) (EvalResult, error) {
	if len(params) != m.n {
		return EvalResult{}, fmt.Errorf("%w: %d parameters, model has %d", ErrModel, len(params), m.n)
	}
	if err := m.checkData(d); err != nil {
		return EvalResult{}, err
	}
	const chunk = 500
	n := d.Len()
	ws := m.getWorkspace(min(chunk, n))
	defer m.pool.Put(ws)
	idx := make([]int, min(chunk, n))
	var loss, abs float64
	correct := 0
	L := len(m.sizes) - 1
	k := m.sizes[L]
	for lo := 0; lo < n; lo += chunk {
		if err := ctx.Err(); err != nil {
			return EvalResult{}, err
		}
		hi := min(lo+chunk, n)
		rows := idx[:hi-lo]
		for r := range rows {
			rows[r] = lo + r
		}
		gather(d, rows, ws)
		m.forward(params, ws, len(rows))
		l, c := m.lossAndDelta(d, rows, ws, false)
		loss += l
		correct += c
		if m.loss == SquaredError {
			out := ws.acts[L-1]
			for r, i := range rows {
				for j := range k {
					abs += math.Abs(out[r*k+j] - d.Y[i*k+j])
				}
			}
		}
	}
	res := EvalResult{Samples: n, Loss: loss / float64(n)}
	if m.loss == CrossEntropy {
		res.Accuracy = float64(correct) / float64(n)
		res.Metrics = Metrics{"loss": res.Loss, "accuracy": res.Accuracy}
	} else {
		res.Metrics = Metrics{"loss": res.Loss, "mse": res.Loss, "rmse": math.Sqrt(res.Loss), "mae": abs / float64(n*k)}
	}
	return res, nil
}

// Predict computes the model's output for each row of x (rows × inputs,
// row-major) and returns it (rows × outputs): class probabilities for a
// classifier, predicted values for a regressor.
func (m *MLP) Predict(params, x []float64) ([]float64, error) {
	in, out := m.sizes[0], m.sizes[len(m.sizes)-1]
	if len(params) != m.n {
		return nil, fmt.Errorf("%w: %d parameters, model has %d", ErrModel, len(params), m.n)
	}
	if len(x)%in != 0 {
		return nil, fmt.Errorf("%w: %d values are not rows of %d inputs", ErrModel, len(x), in)
	}
	rows := len(x) / in
	res := make([]float64, 0, rows*out)
	const chunk = 500
	ws := m.getWorkspace(min(chunk, max(rows, 1)))
	defer m.pool.Put(ws)
	for lo := 0; lo < rows; lo += chunk {
		hi := min(lo+chunk, rows)
		copy(ws.x, x[lo*in:hi*in])
		m.forward(params, ws, hi-lo)
		res = append(res, ws.acts[len(m.sizes)-2][:(hi-lo)*out]...)
	}
	return res, nil
}

// Trainer returns a Trainer (and Evaluator) that trains this model on d by
// minibatch SGD. seed distinguishes clients: two trainers with the same
// seed, data and TrainConfig produce identical parameters.
func (m *MLP) Trainer(d *Dataset, seed uint64) (*SGD, error) {
	if err := m.checkData(d); err != nil {
		return nil, err
	}
	if d.Len() == 0 {
		return nil, fmt.Errorf("%w: empty dataset", ErrData)
	}
	return &SGD{model: m, data: d, seed: seed}, nil
}

// SGD trains an MLP on one local dataset by minibatch stochastic gradient
// descent with optional momentum and FedProx's proximal term. It implements
// Trainer and Evaluator. Training is deterministic: the batch order comes
// from the trainer's seed, TrainConfig.Seed and TrainConfig.Round.
//
// An SGD is safe for concurrent use; concurrent calls use separate scratch
// buffers.
type SGD struct {
	model *MLP
	data  *Dataset
	seed  uint64
}

// Data returns the local dataset.
func (t *SGD) Data() *Dataset { return t.data }

// Train runs cfg.Epochs epochs of minibatch SGD from global and returns the
// trained parameters with the local sample count and the metrics "loss"
// (mean training loss over the last epoch) and, for classifiers,
// "accuracy" (training accuracy over the last epoch).
func (t *SGD) Train(ctx context.Context, global []float64, cfg TrainConfig) (TrainResult, error) {
	m := t.model
	if len(global) != m.n {
		return TrainResult{}, fmt.Errorf("%w: %d parameters, model has %d", ErrModel, len(global), m.n)
	}
	cfg = cfg.withDefaults(TrainConfig{Epochs: 1, LearningRate: DefaultLearningRate})
	if cfg.Epochs < 0 || !(cfg.LearningRate > 0) || cfg.Momentum < 0 || cfg.Momentum >= 1 || cfg.ProxMu < 0 ||
		math.IsInf(cfg.LearningRate, 0) || math.IsNaN(cfg.ProxMu) || math.IsInf(cfg.ProxMu, 0) {
		return TrainResult{}, fmt.Errorf("%w: invalid training config %+v", ErrConfig, cfg)
	}
	n := t.data.Len()
	bs := cfg.BatchSize
	if bs <= 0 || bs > n {
		bs = n
	}
	ws := m.getWorkspace(bs)
	defer m.pool.Put(ws)
	w := append([]float64(nil), global...)
	prox := cfg.ProxMu > 0
	if prox {
		if len(ws.w0) != m.n {
			ws.w0 = make([]float64, m.n)
		}
		copy(ws.w0, global)
	}
	mom := cfg.Momentum > 0
	if mom {
		if len(ws.vel) != m.n {
			ws.vel = make([]float64, m.n)
		}
		clear(ws.vel)
	}
	if len(ws.idx) < n {
		ws.idx = make([]int, n)
	}
	idx := ws.idx[:n]
	for i := range idx {
		idx[i] = i
	}
	rng := rand.New(rand.NewPCG(t.seed^cfg.Seed, uint64(cfg.Round)))
	lr, mu, beta := cfg.LearningRate, cfg.ProxMu, cfg.Momentum
	var loss float64
	var correct int
	for range cfg.Epochs {
		rng.Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		loss, correct = 0, 0
		for lo := 0; lo < n; lo += bs {
			if err := ctx.Err(); err != nil {
				return TrainResult{}, err
			}
			rows := idx[lo:min(lo+bs, n)]
			gather(t.data, rows, ws)
			m.forward(w, ws, len(rows))
			l, c := m.lossAndDelta(t.data, rows, ws, true)
			loss += l
			correct += c
			m.backward(w, ws, len(rows))
			sgdStep(w, ws, lr, mu, beta, prox, mom)
		}
	}
	met := Metrics{"loss": loss / float64(n)}
	if m.loss == CrossEntropy {
		met["accuracy"] = float64(correct) / float64(n)
	}
	return TrainResult{Params: w, Samples: n, Metrics: met}, nil
}

// sgdStep applies one SGD step to w with the gradient in ws.grad, using
// BLAS level-1 kernels (vectorised, and cheap under the race detector):
//
//	g = grad + μ(w − w0)            (FedProx, when prox)
//	v = βv + g; w -= lr·v           (momentum, when mom)
//	w -= lr·g                       (otherwise)
func sgdStep(w []float64, ws *workspace, lr, mu, beta float64, prox, mom bool) {
	impl := blas64.Implementation()
	n := len(w)
	g := ws.grad
	switch {
	case !prox && !mom:
		impl.Daxpy(n, -lr, g, 1, w, 1)
	case prox && !mom:
		// w − lr(g + μ(w − w0)) = (1 − lr·μ)w + lr·μ·w0 − lr·g
		impl.Dscal(n, 1-lr*mu, w, 1)
		impl.Daxpy(n, lr*mu, ws.w0, 1, w, 1)
		impl.Daxpy(n, -lr, g, 1, w, 1)
	default:
		v := ws.vel
		impl.Dscal(n, beta, v, 1)
		impl.Daxpy(n, 1, g, 1, v, 1)
		if prox {
			impl.Daxpy(n, mu, w, 1, v, 1)
			impl.Daxpy(n, -mu, ws.w0, 1, v, 1)
		}
		impl.Daxpy(n, -lr, v, 1, w, 1)
	}
}

// Evaluate evaluates params on the local dataset.
func (t *SGD) Evaluate(ctx context.Context, params []float64) (EvalResult, error) {
	return t.model.Evaluate(ctx, params, t.data)
}

// gemm computes C = alpha·op(A)·op(B) + beta·C like blas64's Dgemm, in
// tiles small enough that gonum runs each one serially: gonum's parallel
// path allocates goroutines and channels on every call, and the
// simulation already trains many clients in parallel.
func gemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	const tm, tn = 64, 192 // 1×3 gonum blocks: below its parallel threshold of 4
	impl := blas64.Implementation()
	for i0 := 0; i0 < m; i0 += tm {
		mi := min(tm, m-i0)
		var as []float64
		if tA == blas.Trans {
			as = a[i0:]
		} else {
			as = a[i0*lda:]
		}
		for j0 := 0; j0 < n; j0 += tn {
			nj := min(tn, n-j0)
			var bs []float64
			if tB == blas.Trans {
				bs = b[j0*ldb:]
			} else {
				bs = b[j0:]
			}
			impl.Dgemm(tA, tB, mi, nj, k, alpha, as, lda, bs, ldb, beta, c[i0*ldc+j0:], ldc)
		}
	}
}
