#!/usr/bin/env python3
"""Packs layer tarballs into an OCI image archive that `ctr images import` reads.

This is the last step of the local image builder: no Docker engine and no
registry exist here, so the image layout (blobs, manifest, config, index) is
written directly. Layers stay uncompressed: they never cross a network, and
gzip would cost minutes on a few hundred megabytes.
"""
import argparse
import hashlib
import io
import json
import os
import tarfile
import tempfile

LAYER = "application/vnd.oci.image.layer.v1.tar"


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def add_bytes(archive, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))


def descriptor(media_type, data):
    return {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True, help="fully qualified image name, e.g. localhost/scriptrun/runner:test")
    parser.add_argument("--layer", action="append", required=True, help="an uncompressed layer tarball, base first")
    parser.add_argument("--entrypoint", default="[]", help="JSON array")
    parser.add_argument("--cmd", default="[]", help="JSON array")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE")
    parser.add_argument("--user", default="")
    parser.add_argument("--workdir", default="/")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    layers = [(path, sha256_file(path), os.path.getsize(path)) for path in args.layer]
    config = json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": json.loads(args.entrypoint) or None,
            "Cmd": json.loads(args.cmd) or None,
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", *args.env],
            "User": args.user,
            "WorkingDir": args.workdir,
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + digest for _, digest, _ in layers]},
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": [{"mediaType": LAYER, "digest": "sha256:" + digest, "size": size} for _, digest, size in layers],
    }, sort_keys=True).encode()
    manifest_desc = descriptor("application/vnd.oci.image.manifest.v1+json", manifest)
    # containerd names the imported image after this annotation.
    manifest_desc["annotations"] = {
        "io.containerd.image.name": args.name,
        "org.opencontainers.image.ref.name": args.name.rsplit(":", 1)[-1],
    }
    index = json.dumps({"schemaVersion": 2, "manifests": [manifest_desc]}, sort_keys=True).encode()

    out_dir = os.path.dirname(os.path.abspath(args.out))
    with tempfile.NamedTemporaryFile(dir=out_dir, delete=False) as tmp:
        with tarfile.open(fileobj=tmp, mode="w") as archive:
            add_bytes(archive, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
            add_bytes(archive, "index.json", index)
            for data in (config, manifest):
                add_bytes(archive, "blobs/sha256/" + hashlib.sha256(data).hexdigest(), data)
            for path, digest, _ in layers:
                archive.add(path, arcname="blobs/sha256/" + digest)
    os.replace(tmp.name, args.out)


if __name__ == "__main__":
    main()
