"""Exports the segmentation models compare_ort.py times: LRASPP-MobileNetV3-Large (torchvision) and a small U-Net
with bilinear upsampling, random weights, batch 1, into the folder given (default: the current one).
    segmentation_models.py OUT_DIR"""
import os, sys, torch, torch.nn as nn, torch.nn.functional as F, torchvision

class DoubleConv(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

class UNet(nn.Module):
    """The classic U-Net shape (milesial/Pytorch-UNet with bilinear=True): 4 poolings, bilinear x2 upsampling
    with align_corners=True, skip concatenations."""
    def __init__(self, ch=(32, 64, 128, 256, 512), classes=2):
        super().__init__()
        self.inc = DoubleConv(3, ch[0])
        self.down = nn.ModuleList(DoubleConv(ch[i], ch[i + 1] if i < 3 else ch[i + 1] // 2) for i in range(4))
        ups = []
        for i in range(4):
            cin = ch[4 - i]
            cout = ch[3 - i] // 2 if i < 3 else ch[0]
            ups.append(DoubleConv(cin, cout))
        self.up = nn.ModuleList(ups)
        self.outc = nn.Conv2d(ch[0], classes, 1)
    def forward(self, x):
        skips = [self.inc(x)]
        for d in self.down:
            skips.append(d(F.max_pool2d(skips[-1], 2)))
        y = skips.pop()
        for u in self.up:
            y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=True)
            y = u(torch.cat([skips.pop(), y], dim=1))
        return self.outc(y)

class LrasppOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.m = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None)
    def forward(self, x):
        return self.m(x)["out"]

def export(model, shape, path):
    torch.manual_seed(0)
    model.eval()
    x = torch.randn(*shape)
    torch.onnx.export(model, (x,), path, input_names=["x"], output_names=["y"], opset_version=17)
    print("wrote", path)

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    export(UNet(), (1, 3, 256, 256), os.path.join(out, "unet.onnx"))
    export(LrasppOut(), (1, 3, 512, 512), os.path.join(out, "lraspp.onnx"))
