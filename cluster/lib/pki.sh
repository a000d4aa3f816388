#!/usr/bin/env bash
# Makes the cluster's certificates and kubeconfigs with openssl: one CA, a
# serving certificate for the apiserver and the kubelet, a client certificate
# per component (so RBAC and NodeRestriction see real identities), and the
# service-account signing key. Idempotent: existing files are kept.
set -euo pipefail
. "$(dirname "$0")/common.sh"

PKI=$STATE_DIR/pki
NODE_IP=$1
mkdir -p "$PKI"
cd "$PKI"

if [ ! -f ca.crt ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
    -subj "/CN=scriptrun-local-ca" 2>/dev/null
fi
[ -f sa.key ] || { openssl genrsa -out sa.key 2048 2>/dev/null; openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null; }

# cert NAME SUBJECT [SUBJECT_ALT_NAMES]: a key and a CA-signed certificate.
cert() {
  local name=$1 subj=$2 san=${3:-}
  [ -f "$name.crt" ] && return 0
  openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
  local ext=$name.ext
  if [ -n "$san" ]; then
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" >"$ext"
  else
    printf 'extendedKeyUsage=clientAuth\n' >"$ext"
  fi
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile "$ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$ext"
}

cert apiserver "/CN=kube-apiserver" \
  "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:${SERVICE_CIDR%.0/*}.1"
cert apiserver-kubelet-client "/O=kube-apiserver-kubelet-clients/CN=kube-apiserver-kubelet-client"
cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "DNS:$NODE_NAME,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP"
cert admin "/O=system:masters/CN=scriptrun-admin"
cert controller-manager "/CN=system:kube-controller-manager"
cert scheduler "/CN=system:kube-scheduler"
cert kube-proxy "/CN=system:kube-proxy"

# kubeconfig NAME FILE: a kubeconfig that authenticates with NAME's certificate.
kubeconfig() {
  local name=$1 file=$2
  cat >"$file" <<KC
apiVersion: v1
kind: Config
clusters:
- name: scriptrun-local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $name
  user:
    client-certificate: $PKI/$name.crt
    client-key: $PKI/$name.key
contexts:
- name: scriptrun-local
  context: {cluster: scriptrun-local, user: $name}
current-context: scriptrun-local
KC
}
kubeconfig admin "$KUBECONFIG_PATH"
for c in controller-manager scheduler kubelet kube-proxy; do kubeconfig "$c" "$PKI/$c.kubeconfig"; done
