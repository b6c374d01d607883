#ifndef PORTEN_CJANSSON_SHIM_H
#define PORTEN_CJANSSON_SHIM_H
#include <jansson.h>

/* json_typeof and json_decref are macros or inline helpers; these give Swift plain functions. */
static inline int cj_type(const json_t *value) { return (int)json_typeof(value); }
static inline void cj_release(json_t *value) { json_decref(value); }
static inline const char *cj_error_text(const json_error_t *error) { return error->text; }
static inline int cj_error_position(const json_error_t *error) { return error->position; }
#endif
