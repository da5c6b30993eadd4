"""kiln.export: each classic export mistake reproduced, and the message that catches it."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import kiln
from kiln.export import ExportError, ExportWarning


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.drop = torch.nn.Dropout(0.5)
        self.fc = torch.nn.Linear(4, 5)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3))
        return self.fc(self.drop(y))


AXES = {"input": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch"}}


def make_net() -> Net:
    torch.manual_seed(0)
    net = Net()
    net.train()
    with torch.no_grad():  # running statistics other than 0/1, so eval mode matters
        net(torch.randn(8, 3, 8, 8))
    return net


def test_export_puts_the_model_in_eval_mode_and_verifies_two_sizes(tmp_path):
    net = make_net()
    assert net.training
    report = kiln.export(net, (torch.randn(2, 3, 8, 8),), tmp_path / "net.onnx", input_names=["input"],
                         output_names=["logits"], dynamic_axes=AXES, opset_version=17)
    assert not net.training
    assert [c["label"] for c in report.checks] == ["traced", "second"]
    assert report.checks[1]["shapes"] == {"input": [3, 3, 9, 9]}
    assert report.max_abs_error < 1e-4
    assert "max abs error" in str(report)


def test_export_params_false_is_refused(tmp_path):
    with pytest.raises(ExportError, match="export_params=True"):
        kiln.export(make_net(), (torch.randn(1, 3, 8, 8),), tmp_path / "n.onnx", input_names=["input"],
                    output_names=["logits"], dynamic_axes=AXES, export_params=False)


def test_fixed_inputs_warn_with_the_dynamic_axes_to_pass(tmp_path):
    with pytest.warns(ExportWarning) as caught:
        kiln.export(make_net(), (torch.randn(1, 3, 8, 8),), tmp_path / "n.onnx", input_names=["input"],
                    output_names=["logits"])
    message = str(caught[0].message)
    assert "'input' [1, 3, 8, 8]" in message
    assert "dynamic_axes={'input': {0: 'batch', 2: 'height', 3: 'width'}, 'logits': {0: 'batch'}}" in message


def test_no_warning_when_every_input_is_dynamic(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExportWarning)
        kiln.export(make_net(), (torch.randn(1, 3, 8, 8),), tmp_path / "n.onnx", input_names=["input"],
                    output_names=["logits"], dynamic_axes=AXES)


def test_dynamic_axes_keys_are_checked(tmp_path):
    with pytest.raises(ExportError, match="'image', which is neither an input"):
        kiln.export(make_net(), (torch.randn(1, 3, 8, 8),), tmp_path / "n.onnx", input_names=["input"],
                    output_names=["logits"], dynamic_axes={"image": {0: "batch"}})
    with pytest.raises(ExportError, match=r"axes \[4\].*rank 4"):
        kiln.export(make_net(), (torch.randn(1, 3, 8, 8),), tmp_path / "n.onnx", input_names=["input"],
                    output_names=["logits"], dynamic_axes={"input": {4: "x"}})


class Branchy(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # a tensor turned into a Python bool: the trace keeps one branch
            return x * 2
        return x - 1


def test_tracer_warnings_are_errors_unless_allowed(tmp_path):
    x = torch.ones(2, 3)
    with pytest.raises(ExportError, match="turned tensors into Python values") as e:
        kiln.export(Branchy(), (x,), tmp_path / "b.onnx", input_names=["x"], output_names=["y"],
                    dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    assert "test_export.py" in str(e.value)  # names the line
    kiln.export(Branchy(), (x,), tmp_path / "b.onnx", input_names=["x"], output_names=["y"],
                dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, allow_tracer_warnings=True)


class BakedSize(torch.nn.Module):
    def forward(self, x):
        return x + torch.ones(int(x.shape[0]), 1)  # the size becomes a constant of the graph


def test_a_baked_size_fails_verification_at_the_second_size(tmp_path):
    with pytest.raises(ExportError, match="second sizes"):
        kiln.export(BakedSize(), (torch.ones(2, 3),), tmp_path / "s.onnx", input_names=["x"], output_names=["y"],
                    dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, allow_tracer_warnings=True)


class Upsample(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


def test_an_op_the_opset_cannot_express_names_the_opset_needed(tmp_path):
    with pytest.raises(ExportError, match="needs opset 11: pass opset_version=11"):
        kiln.export(Upsample(), (torch.randn(1, 1, 4, 4),), tmp_path / "u.onnx", input_names=["x"],
                    output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=9)
    report = kiln.export(Upsample(), (torch.randn(1, 1, 4, 4),), tmp_path / "u.onnx", input_names=["x"],
                         output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=11)
    assert report.max_abs_error < 1e-5
    assert np.isfinite(report.max_rel_error)
