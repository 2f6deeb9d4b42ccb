// Package train trains a resnet.Model on the CPU.
//
//   - SGD with momentum and weight decay (PyTorch semantics, since Gorgonia's Momentum solver
//     decays the velocity instead of the weights) and learning-rate Schedules (step, cosine,
//     warm-up), both checked step for step against torch.optim.
//   - Trainer (forward, backward through gorgonia.Grad, update; Compute and Apply apart when a
//     caller needs the gradients first) and Evaluator (evaluation mode over the same store).
//   - Run: the training loop of `trainer train` over a Config, writing metrics, curves and an
//     atomic checkpoint after every epoch; a resumed run continues bit for bit.
//   - Data parallelism (parallel.go): Options.Comm trains one run over several processes as
//     PyTorch's DistributedDataParallel does (Config.Batch is the global batch, gradients averaged
//     by one all-reduce per step, rank 0 evaluates and writes); Options.Accumulate is the same
//     computation in one process, over micro-batches.
//   - GradientProbe and Measure: per-layer gradient norms and BatchNorm response statistics read
//     from the nodes of the symbolic backward pass (graph.Config.Probe).
//
// Its sub-packages hold the data sets and loader (data), the checkpoint file (checkpoint), the
// per-epoch records, curves and progress display (runlog), and the communication between the
// processes of a distributed run (dist).
package train
