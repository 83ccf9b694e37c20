// PKCS#11 (Cryptoki) declarations from Debian's libp11-kit-dev. Nothing is linked: a token's
// module (e.g. /usr/lib/softhsm/libsofthsm2.so) is loaded at run time with dlopen.
#include <dlfcn.h>
#include <p11-kit-1/p11-kit/pkcs11.h>
