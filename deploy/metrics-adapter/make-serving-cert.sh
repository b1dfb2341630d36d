#!/usr/bin/env bash
# TLS for the metrics API without cert-manager: makes a private CA and a serving certificate for
# the tidal-metrics-adapter Service, then (unless --out-only) creates the kube-system Secret
# tidal-metrics-adapter-tls and sets the CA as caBundle of the three APIServices.
#
#   deploy/metrics-adapter/make-serving-cert.sh [--out DIR] [--out-only] [--days N]
#
# DIR (default: a new temporary directory) receives ca.crt, ca.key, tls.crt, tls.key and
# apiservice-cabundle.yaml (a patch with the base64 CA). Keep ca.key safe, or delete it: a new run
# makes a new CA and updates caBundle. Needs openssl; kubectl for the cluster steps.
set -euo pipefail

out=""
out_only=0
days=825
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --out-only) out_only=1; shift ;;
    --days) days="$2"; shift 2 ;;
    *) echo "make-serving-cert.sh: unknown argument '$1' (expected --out DIR, --out-only, --days N)" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || out=$(mktemp -d)
mkdir -p "$out"
umask 077

service=tidal-metrics-adapter
namespace=kube-system
names="DNS:${service},DNS:${service}.${namespace},DNS:${service}.${namespace}.svc,DNS:${service}.${namespace}.svc.cluster.local"

openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$out/ca.key" -out "$out/ca.crt" -days "$days" \
  -subj "/CN=${service}-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  2>/dev/null
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$out/tls.key" -out "$out/tls.csr" -subj "/CN=${service}.${namespace}.svc" 2>/dev/null
openssl x509 -req -in "$out/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
  -out "$out/tls.crt" -days "$days" \
  -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$names") \
  2>/dev/null
rm -f "$out/tls.csr" "$out/ca.srl"

ca_bundle=$(base64 -w0 < "$out/ca.crt")
printf 'spec:\n  caBundle: %s\n' "$ca_bundle" > "$out/apiservice-cabundle.yaml"
echo "certificates in $out (serving names: ${names//DNS:/})"

if [ "$out_only" -eq 1 ]; then
  exit 0
fi
kubectl -n "$namespace" create secret tls "${service}-tls" --cert="$out/tls.crt" --key="$out/tls.key" \
  --dry-run=client -o yaml | kubectl apply -f -
for apiservice in v1beta2.custom.metrics.k8s.io v1beta1.custom.metrics.k8s.io v1beta1.external.metrics.k8s.io; do
  kubectl patch apiservice "$apiservice" --type merge --patch-file "$out/apiservice-cabundle.yaml"
done
echo "Secret ${namespace}/${service}-tls applied and caBundle set on the three APIServices"
