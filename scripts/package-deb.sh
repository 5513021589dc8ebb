#!/usr/bin/env bash
# Builds the Debian package with dpkg-deb alone (packaging/debian/): the release binary as
# /usr/bin/relais, the systemd unit, the example configuration (its state under
# /var/lib/relais) from which the first install makes /etc/relais/relais.toml with random
# appservice tokens, the docs; the `relais` system user is made on install.
#   bash scripts/package-deb.sh [--no-build]   prints the path of the .deb (target/debian/)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
if [ "${1:-}" != "--no-build" ]; then
  cargo build --release --locked --quiet --bin relais
fi
stage="$(mktemp -d)"
chmod 0755 "$stage"   # its mode becomes that of the package's root directory
trap 'rm -rf "$stage"' EXIT

install -D -m 0755 target/release/relais "$stage/usr/bin/relais"
strip --strip-unneeded "$stage/usr/bin/relais" 2>/dev/null || true
mkdir -p "$stage/lib/systemd/system" "$stage/usr/share/relais" "$stage/usr/share/doc/relais" "$stage/DEBIAN"
sed 's|/usr/local/bin/relais|/usr/bin/relais|' element-config/systemd/relais.service \
  > "$stage/lib/systemd/system/relais.service"
# The example, with its state where the unit lets relais write.
sed -e 's|^master_key_file = "relais.key"|master_key_file = "/var/lib/relais/relais.key"|' \
    -e 's|sqlite://relais.db?mode=rwc|sqlite:///var/lib/relais/relais.db?mode=rwc|' \
    relais.example.toml > "$stage/usr/share/relais/relais.toml.in"
grep -q '^master_key_file = "/var/lib/relais/relais.key"' "$stage/usr/share/relais/relais.toml.in"
grep -q 'sqlite:///var/lib/relais/relais.db' "$stage/usr/share/relais/relais.toml.in"
grep -q 'change-me-as-0123456789abcdef' "$stage/usr/share/relais/relais.toml.in"
cp README.md docs/deploy.md "$stage/usr/share/doc/relais/"
printf 'Relais\nLicense: AGPL-3.0-or-later\n' > "$stage/usr/share/doc/relais/copyright"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" packaging/debian/control.in > "$stage/DEBIAN/control"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$stage/DEBIAN/"

mkdir -p target/debian
deb="target/debian/relais_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$root/$deb"
