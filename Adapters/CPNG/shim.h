#ifndef PARLEY_CPNG_SHIM_H
#define PARLEY_CPNG_SHIM_H
#include <png.h>

/* Swift does not import these function-like format macros; re-export them as constants. */
static const unsigned int PARLEY_PNG_FORMAT_RGBA = PNG_FORMAT_RGBA;
static const unsigned int PARLEY_PNG_FORMAT_RGB = PNG_FORMAT_RGB;
static const unsigned int PARLEY_PNG_IMAGE_VERSION = PNG_IMAGE_VERSION;
#endif
