#!/bin/sh
# Generate the throw-away test PKI into DIR (default: ./pki). Nothing here is
# ever committed: every key is made fresh at test time and lives in a temp dir.
#
#   root.pem          "pinshim Test Root"          (CA, EC P-256)
#   inter.pem         "pinshim Test Intermediate"  (CA, signed by root)
#   leaf.pem/.key     api.test, *.api.test         (EC, signed by inter)
#   backup.pem/.key   api.test                     (RSA 2048, signed by inter)
#   short.pem/.key    api.test, valid for 30 days  (signed by inter)
#   rogue-root.pem    "Rogue Inspection CA"        (CA, also trusted by the shim)
#   rogue.pem/.key    api.test                     (signed by rogue root)
#   wrongname.pem     other.test                   (signed by inter)
#   expired.pem       api.test, expired in 2021    (signed by inter)
#   selfsigned.pem    api.test, self-signed
#   *-chain.pem       leaf + intermediate, as a server presents it
#   ca.pem            root + rogue root: the shim's ca_file
set -eu
dir=${1:-pki}
mkdir -p "$dir"
cd "$dir"

ossl() { openssl "$@" 2>/dev/null; }
eckey() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

ext_ca='basicConstraints=critical,CA:TRUE,pathlen:1
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash'
ext_inter='basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid'
leaf_ext() {
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' "$1"
}

# self-signed CA: name key cn
mkroot() {
	eckey "$1.key"
	printf '%s\n' "$ext_ca" > "$1.ext"
	ossl req -new -key "$1.key" -subj "/O=pinshim tests/CN=$2" -out "$1.csr"
	ossl x509 -req -in "$1.csr" -signkey "$1.key" -days 3650 -sha256 \
		-extfile "$1.ext" -out "$1.pem"
}

# signed cert: name issuer extfile cn
mksigned() {
	ossl req -new -key "$1.key" -subj "/O=pinshim tests/CN=$4" -out "$1.csr"
	ossl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
		-days 825 -sha256 -extfile "$3" -out "$1.pem"
}

mkroot root "pinshim Test Root"
eckey inter.key
printf '%s\n' "$ext_inter" > inter.ext
mksigned inter root inter.ext "pinshim Test Intermediate"

leaf_ext 'DNS:api.test,DNS:*.api.test' > api.ext
eckey leaf.key
mksigned leaf inter api.ext api.test
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out backup.key
mksigned backup inter api.ext api.test
eckey short.key
ossl req -new -key short.key -subj "/O=pinshim tests/CN=api.test" -out short.csr
ossl x509 -req -in short.csr -CA inter.pem -CAkey inter.key -CAcreateserial \
	-days 30 -sha256 -extfile api.ext -out short.pem

mkroot rogue-root "Rogue Inspection CA"
eckey rogue.key
mksigned rogue rogue-root api.ext api.test

leaf_ext 'IP:::1,IP:127.0.0.1' > ip.ext
eckey ip.key
mksigned ip inter ip.ext "pinshim IP literal"
cat ip.pem inter.pem > ip-chain.pem

leaf_ext 'DNS:other.test' > other.ext
eckey wrongname.key
mksigned wrongname inter other.ext other.test

# Expired: openssl 3.0's x509 cannot back-date, `openssl ca` can.
eckey expired.key
ossl req -new -key expired.key -subj "/O=pinshim tests/CN=api.test" -out expired.csr
mkdir -p ca.db
: > ca.db/index.txt
echo 1000 > ca.db/serial
cat > ca.cnf <<EOF
[ca]
default_ca = test
[test]
dir = ca.db
database = ca.db/index.txt
serial = ca.db/serial
new_certs_dir = ca.db
default_md = sha256
policy = anything
copy_extensions = none
[anything]
O = optional
CN = supplied
EOF
ossl ca -batch -config ca.cnf -cert inter.pem -keyfile inter.key \
	-startdate 20200101000000Z -enddate 20210101000000Z \
	-extfile api.ext -in expired.csr -out expired.pem -notext

eckey selfsigned.key
leaf_ext 'DNS:api.test' | sed 's/^authorityKeyIdentifier.*//' > self.ext
ossl req -new -key selfsigned.key -subj "/CN=api.test" -out selfsigned.csr
ossl x509 -req -in selfsigned.csr -signkey selfsigned.key -days 365 -sha256 \
	-extfile self.ext -out selfsigned.pem

for c in leaf backup wrongname expired; do
	cat "$c.pem" inter.pem > "$c-chain.pem"
done
cp rogue.pem rogue-chain.pem
cat root.pem rogue-root.pem > ca.pem
rm -f ./*.csr ./*.srl
