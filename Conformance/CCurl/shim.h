#ifndef PORTEN_CCURL_SHIM_H
#define PORTEN_CCURL_SHIM_H
#include <curl/curl.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic; Swift calls these typed wrappers. */
typedef size_t (*cc_data_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode cc_setopt_long(CURL *curl, CURLoption option, long value) { return curl_easy_setopt(curl, option, value); }
static inline CURLcode cc_setopt_string(CURL *curl, CURLoption option, const char *value) { return curl_easy_setopt(curl, option, value); }
static inline CURLcode cc_setopt_pointer(CURL *curl, CURLoption option, void *value) { return curl_easy_setopt(curl, option, value); }
static inline CURLcode cc_setopt_callback(CURL *curl, CURLoption option, cc_data_callback value) { return curl_easy_setopt(curl, option, value); }
static inline CURLcode cc_setopt_slist(CURL *curl, CURLoption option, struct curl_slist *value) { return curl_easy_setopt(curl, option, value); }
static inline CURLcode cc_getinfo_long(CURL *curl, CURLINFO info, long *value) { return curl_easy_getinfo(curl, info, value); }
#endif
