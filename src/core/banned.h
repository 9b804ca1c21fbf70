/*
 * Functions we never call: unbounded copies and parsers that cannot report
 * errors. Include this last in a .c file; any use becomes a compile error.
 */
#ifndef PA_CORE_BANNED_H
#define PA_CORE_BANNED_H

#define PA_BANNED(func) sorry_##func##_is_banned

#undef strcpy
#define strcpy(x, y) PA_BANNED(strcpy)
#undef strcat
#define strcat(x, y) PA_BANNED(strcat)
#undef sprintf
#define sprintf(...) PA_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) PA_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) PA_BANNED(strtok)
#undef atoi
#define atoi(x) PA_BANNED(atoi)
#undef atol
#define atol(x) PA_BANNED(atol)

#endif
