# Shared helpers for Medrex scripts (sourced, not run).

# Installs the Debian packages named, if any is missing. Runs apt-get as root, or through sudo.
medrex_require_packages() {
    local missing=()
    local package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    ((${#missing[@]})) || return 0
    echo "Installing Debian packages: ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
}

# The Debian packages Medrex builds and tests with (etcd-server: the etcd that the EtcdClient tests run;
# postgresql: the PostgreSQL 15 server that the OffChainStore tests start; libp11-kit-dev: the
# PKCS#11 header; softhsm2: the software token that the custodian-key tests use; p11-kit and
# p11-kit-modules: its server and client module, which serve that token over a socket).
MEDREX_PACKAGES=(openssl ca-certificates librocksdb-dev gcc etcd-server postgresql libp11-kit-dev softhsm2 p11-kit p11-kit-modules)
