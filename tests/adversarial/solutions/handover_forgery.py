# Hostile: computes the right answer, then rewrites how its worker hands outputs over, to see whether the
# grader can be made to read something other than a checked copy: descriptors of the wrong kind, too many
# or too few of them, a handle smaller than the output it claims, a claim larger than any GPU.
# {{MODE}} picks the attack; every one must end as a protocol_violation.
import os
import tempfile

import torch
import torch.nn as nn

import grader.jail.runner as runner
from grader.protocol.messages import CudaTensor

MODE = "{{MODE}}"
_honest = runner.ModelRunner.hand_over


def _declared(outs):
    return [CudaTensor(dtype=str(t.dtype).removeprefix("torch."), shape=list(t.shape)) for t in outs]


def hand_over(self, outs, folder, tag):
    if self.role != "candidate":
        return _honest(self, outs, folder, tag)
    rd, wr = os.pipe()
    if MODE == "pipe":          # a pipe where a CUDA handle should be
        return _declared(outs), [rd]
    if MODE == "file":          # a regular file full of the "right" bytes
        f = tempfile.TemporaryFile()
        f.write(b"\0" * 4096)
        return _declared(outs), [os.dup(f.fileno())]
    if MODE == "stray":         # honest outputs, plus a descriptor nobody asked for
        descs, fds = _honest(self, outs, folder, tag)
        return descs, fds + [rd]
    if MODE == "missing":       # claims a CUDA handle, sends none
        return _declared(outs), []
    if MODE == "flood":         # hundreds of descriptors in one message
        return _declared(outs), [rd] * 200
    if MODE == "short":         # a real CUDA handle, of one granule, for an output far larger
        return _declared(outs), [self.exporter.export(torch.zeros(1, device="cuda"))]
    if MODE == "huge":          # a real handle, claimed to hold 2**50 floats
        return [CudaTensor(dtype="float32", shape=[1 << 25, 1 << 25])], [self.exporter.export(outs[0])]
    raise ValueError(MODE)


runner.ModelRunner.hand_over = hand_over


class ModelNew(nn.Module):
    def forward(self, *args):
        return args[0] + args[1] if len(args) == 2 else torch.relu(args[0])
