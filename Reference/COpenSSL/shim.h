#ifndef PORTEN_COPENSSL_SHIM_H
#define PORTEN_COPENSSL_SHIM_H
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#endif
