#!/usr/bin/env bash
# setup.sh prepares a Debian machine (as root) for running and testing runner:
# it installs Docker, the CNI plugins and busybox when they are missing, starts
# dockerd when it is not answering, and imports the local test image. It is
# idempotent: a second run changes nothing. No registry is ever contacted.
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] || need+=(containernetworking-plugins)
# The test image needs a static busybox (ldd fails on a static binary).
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then need+=(busybox-static); fi
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
# The etcd e2e test makes its TLS certificates with openssl.
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

sock=/var/run/docker.sock
if ! docker version >/dev/null 2>&1; then
  echo "setup: starting dockerd (log in /var/log/runner-dockerd.log)"
  # Detached, with no handle on our stdout/stderr, so CI's pipe is never held.
  setsid dockerd >/var/log/runner-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 120); do
    [ -S "$sock" ] && docker version >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker version >/dev/null 2>&1 || { echo "setup: dockerd did not come up:"; tail -20 /var/log/runner-dockerd.log; exit 1; }
fi

# The test image: busybox-static in an otherwise empty root file system.
image=runner.local/busybox:test
if ! docker image inspect "$image" >/dev/null 2>&1; then
  echo "setup: importing $image"
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  mkdir -p "$dir/bin" "$dir/tmp" "$dir/etc" "$dir/var/www"
  cp /bin/busybox "$dir/bin/busybox"
  for app in $(/bin/busybox --list); do
    [ "$app" = busybox ] || ln -sf busybox "$dir/bin/$app"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
  echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>"$dir/etc/passwd"
  echo 'root:x:0:' >"$dir/etc/group"
  echo '<h1>runner test page</h1>' >"$dir/var/www/index.html"
  tar -C "$dir" -c . | docker import \
    --change 'ENV PATH=/bin' \
    --change 'CMD ["sh"]' \
    - "$image" >/dev/null
fi
# The etcd image (the e2e test of a real workload, kubeadm's etcd.yaml): the
# etcd binary of Debian's etcd-server package, with the dynamic loader and
# the libraries it links, in an otherwise empty root file system.
etcd_image=runner.local/etcd:test
if ! docker image inspect "$etcd_image" >/dev/null 2>&1; then
  echo "setup: importing $etcd_image from Debian's etcd-server package"
  etcd_dir=$(mktemp -d)
  trap 'rm -rf "${dir:-}" "$etcd_dir"' EXIT
  if ! (cd "$etcd_dir" && apt-get download -qq etcd-server >/dev/null 2>&1); then
    apt-get update -qq
    (cd "$etcd_dir" && apt-get download -qq etcd-server >/dev/null 2>&1)
  fi
  mkdir -p "$etcd_dir/deb" "$etcd_dir/root/usr/bin" "$etcd_dir/root/tmp" "$etcd_dir/root/var/lib/etcd"
  dpkg-deb -x "$etcd_dir"/etcd-server_*.deb "$etcd_dir/deb"
  cp "$etcd_dir/deb/usr/bin/etcd" "$etcd_dir/root/usr/bin/etcd"
  # Every absolute path ldd names (the libraries and the loader), as files.
  for lib in $(ldd "$etcd_dir/deb/usr/bin/etcd" | grep -o '/[^ ]*'); do
    mkdir -p "$etcd_dir/root$(dirname "$lib")"
    cp -L "$lib" "$etcd_dir/root$lib"
  done
  "$etcd_dir/deb/usr/bin/etcd" --version >/dev/null
  tar -C "$etcd_dir/root" -c . | docker import \
    --change 'ENV PATH=/usr/bin' \
    --change 'CMD ["etcd"]' \
    - "$etcd_image" >/dev/null
fi
# Prometheus, the real client of the metrics' end-to-end test: Debian's
# package, unpacked rather than installed, so that no service starts and
# nothing listens until a test starts it on 127.0.0.1 with its own storage.
prom_dir=/usr/local/lib/runner-test/prometheus
if [ ! -x "$prom_dir/usr/bin/prometheus" ]; then
  echo "setup: unpacking Debian's prometheus into $prom_dir"
  pkg_dir=$(mktemp -d)
  if ! (cd "$pkg_dir" && apt-get download -qq prometheus 2>/dev/null); then
    apt-get update -qq
    (cd "$pkg_dir" && apt-get download -qq prometheus)
  fi
  mkdir -p "$prom_dir"
  dpkg -x "$pkg_dir"/prometheus_*.deb "$prom_dir"
  rm -rf "$pkg_dir"
fi

echo "setup: ready (docker $(docker version --format '{{.Server.Version}}'), images $image $etcd_image)"
