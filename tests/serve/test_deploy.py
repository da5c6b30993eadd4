"""The deployment files (deploy/), checked statically and against the binary: the KServe runtime and
InferenceService parse and hold the keys KServe needs, the runtime's arguments are ones `kiln serve` accepts
(started with exactly them, ports and the model path swapped for test ones), and the Containerfile installs the
Debian packages of every library the binary links. No image is built (that needs a registry's base image)."""
import pathlib
import re
import shutil
import subprocess

import yaml

from conftest import KILN, REPO, start_server, stop_server

DEPLOY = REPO / "deploy"


def load(name):
    return yaml.safe_load((DEPLOY / "kserve" / name).read_text())


def test_runtime_and_inference_service_keys():
    runtime = load("kiln-runtime.yaml")
    assert runtime["apiVersion"] == "serving.kserve.io/v1alpha1" and runtime["kind"] == "ClusterServingRuntime"
    spec = runtime["spec"]
    assert set(spec["protocolVersions"]) == {"v2", "grpc-v2"}
    assert [f["name"] for f in spec["supportedModelFormats"]] == ["onnx"]
    container = spec["containers"][0]
    assert container["name"] == "kserve-container"
    assert [p["containerPort"] for p in container["ports"]] == [8080]
    args = container["args"]
    assert "/mnt/models" in args and "--http-port=8080" in args and "--grpc-port=9000" in args
    isvc = load("inference-service.yaml")
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1" and isvc["kind"] == "InferenceService"
    model = isvc["spec"]["predictor"]["model"]
    assert model["modelFormat"]["name"] == "onnx" and model["runtime"] == runtime["metadata"]["name"]
    assert "autoscaling.knative.dev/target" in isvc["metadata"]["annotations"]


def test_runtime_args_start_kiln(tmp_path):
    args = load("kiln-runtime.yaml")["spec"]["containers"][0]["args"]
    assert args[0] == "serve"
    mnt = tmp_path / "mnt-models"
    mnt.mkdir()
    shutil.copy(REPO / "models" / "super_resolution.onnx", mnt / "model.onnx")
    swapped = []
    for a in args[1:]:
        a = a.replace("/mnt/models", str(mnt)).replace("{{.Name}}", "super-resolution")
        a = re.sub(r"^(--(http|grpc|metrics)-port)=\d+$", r"\1=0", a)
        a = a.replace("--host=0.0.0.0", "--host=127.0.0.1")
        swapped.append(a)
    s = start_server(pathlib.Path(swapped[0]), *swapped[1:], test_ports=False)
    try:
        import tritonclient.http as httpclient
        client = httpclient.InferenceServerClient(s.http_url)
        assert client.is_model_ready("super-resolution")
        assert client.get_model_metadata("super-resolution")["inputs"][0]["name"] == "input"
    finally:
        stop_server(s)


def linked_packages():
    """Debian packages of the libraries build/kiln names (NEEDED), C runtime aside."""
    needed = re.findall(r"\[(.+?)\]", subprocess.run(["readelf", "-d", str(KILN)], capture_output=True, text=True,
                                                      check=True).stdout)
    resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", subprocess.run(["ldd", str(KILN)], capture_output=True,
                                                                       text=True, check=True).stdout, re.M))
    packages = set()
    for lib in needed:
        if lib not in resolved:
            continue
        path = pathlib.Path(resolved[lib]).resolve()
        for candidate in (str(path), str(path).replace("/usr/lib/", "/lib/", 1)):
            out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if out.returncode == 0:
                packages.add(out.stdout.split(":")[0])
                break
        else:
            raise AssertionError(f"no Debian package holds {lib} ({path})")
    return packages - {"libc6", "libstdc++6", "libgcc-s1"}  # in every Debian base image


def test_containerfile_installs_what_the_binary_links():
    text = (DEPLOY / "Containerfile").read_text()
    assert re.search(r"^FROM \S*debian:12-slim$", text, re.M)
    assert "COPY build/kiln /usr/local/bin/kiln" in text
    installed = set(re.findall(r"\b(lib[\w.+-]+)", text.split("apt-get install", 1)[1].split("&&", 1)[0]))
    missing = linked_packages() - installed
    assert not missing, f"the Containerfile does not install {sorted(missing)}, which build/kiln links"
