/* Build identity, as --version and the profile export print it. */
#ifndef PA_CORE_VERSION_H
#define PA_CORE_VERSION_H

/* "2.39.0" (from CMake PA_VERSION_STRING). */
const char *pa_version(void);
/* Short git hash of the build, or "unknown". */
const char *pa_git_sha(void);

#endif
