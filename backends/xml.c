/* XML for libvirt: built with libxml2's text writer (it escapes every value),
 * read back with XPath. No user string is ever pasted into markup. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "backends.h"
#include "libvirt-dl.h"

struct xw {
        xmlBufferPtr buf;
        xmlTextWriterPtr w;
        int err;
};

struct xw *xw_new(void) {
        struct xw *x = xcalloc(1, sizeof(*x));
        if ((x->err = libxml_dl_load()) < 0)
                return x; /* every call is then a no-op, and xw_finish NULL */
        x->buf = xmlBufferCreate();
        x->w = x->buf ? xmlNewTextWriterMemory(x->buf, 0) : NULL;
        if (!x->w)
                x->err = -ENOMEM;
        else
                xmlTextWriterSetIndent(x->w, 1);
        return x;
}

xmlTextWriterPtr xw_writer(struct xw *x) {
        return x->w;
}

void xw_fail(struct xw *x) {
        x->err = -EINVAL;
}

void xw_open(struct xw *x, const char *element) {
        if (!x->err && xmlTextWriterStartElement(x->w, BAD_CAST element) < 0)
                x->err = -EINVAL;
}

void xw_attr(struct xw *x, const char *name, const char *fmt, ...) {
        char value[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(value, sizeof(value), fmt, ap);
        va_end(ap);
        if (!x->err && xmlTextWriterWriteAttribute(x->w, BAD_CAST name, BAD_CAST value) < 0)
                x->err = -EINVAL;
}

void xw_text(struct xw *x, const char *fmt, ...) {
        char value[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(value, sizeof(value), fmt, ap);
        va_end(ap);
        if (!x->err && xmlTextWriterWriteString(x->w, BAD_CAST value) < 0)
                x->err = -EINVAL;
}

void xw_close(struct xw *x) {
        if (!x->err && xmlTextWriterEndElement(x->w) < 0)
                x->err = -EINVAL;
}

void xw_leaf(struct xw *x, const char *element, const char *fmt, ...) {
        char value[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(value, sizeof(value), fmt, ap);
        va_end(ap);
        if (!x->err && xmlTextWriterWriteElement(x->w, BAD_CAST element, BAD_CAST value) < 0)
                x->err = -EINVAL;
}

char *xw_finish(struct xw *x) {
        char *out = NULL;
        if (x->w) {
                if (!x->err && xmlTextWriterEndDocument(x->w) < 0)
                        x->err = -EINVAL;
                xmlFreeTextWriter(x->w);
        }
        if (!x->err && x->buf)
                out = xstrdup((const char *) xmlBufferContent(x->buf));
        if (x->buf)
                xmlBufferFree(x->buf);
        free(x);
        return out;
}

struct xr {
        xmlDocPtr doc;
        xmlXPathContextPtr ctx;
};

struct xr *xr_parse(const char *xml) {
        if (libxml_dl_load() < 0)
                return NULL;
        struct xr *x = xcalloc(1, sizeof(*x));
        x->doc = xmlReadMemory(xml, (int) strlen(xml), NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
                                                                   XML_PARSE_NOWARNING);
        if (x->doc)
                x->ctx = xmlXPathNewContext(x->doc);
        if (!x->ctx) {
                xr_free(x);
                return NULL;
        }
        return x;
}

void xr_free(struct xr *x) {
        if (!x)
                return;
        if (x->ctx)
                xmlXPathFreeContext(x->ctx);
        if (x->doc)
                xmlFreeDoc(x->doc);
        free(x);
}

/* The string value of an XPath expression, "" when nothing matches. */
char *xr_str(struct xr *x, const char *fmt, ...) {
        char expr[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(expr, sizeof(expr), fmt, ap);
        va_end(ap);
        _cleanup_free_ char *wrapped = xasprintf("string(%s)", expr);
        xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST wrapped, x->ctx);
        char *s = xstrdup(o && o->type == XPATH_STRING && o->stringval ? (const char *) o->stringval : "");
        xmlXPathFreeObject(o);
        return s;
}

unsigned long long xr_ull(struct xr *x, const char *fmt, ...) {
        char expr[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(expr, sizeof(expr), fmt, ap);
        va_end(ap);
        _cleanup_free_ char *s = xr_str(x, "%s", expr);
        return strtoull(s, NULL, 10);
}

int xr_count(struct xr *x, const char *fmt, ...) {
        char expr[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(expr, sizeof(expr), fmt, ap);
        va_end(ap);
        _cleanup_free_ char *wrapped = xasprintf("count(%s)", expr);
        xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST wrapped, x->ctx);
        int n = o && o->type == XPATH_NUMBER ? (int) o->floatval : 0;
        xmlXPathFreeObject(o);
        return n;
}

/* Replace (or with new_xml NULL, remove) the first element matching path, then
 * serialize: targeted edits keep whatever else the definition holds. */
char *xr_replace(struct xr *x, const char *path, const char *parent_path, const char *new_xml) {
        return xr_replace_keeping(x, path, parent_path, new_xml, NULL);
}

/* Copy into fresh each child element of old named in keep that fresh lacks:
 * what the model does not describe (a device's PCI address, its boot order)
 * stays with the device instead of being assigned anew. */
static void keep_children(xmlNodePtr old, xmlNodePtr fresh, const char *const *keep) {
        for (size_t i = 0; keep && keep[i]; i++) {
                bool has = false;
                for (xmlNodePtr c = fresh->children; c && !has; c = c->next)
                        has = c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST keep[i]);
                for (xmlNodePtr c = old->children; c && !has; c = c->next)
                        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST keep[i])) {
                                xmlNodePtr copy = xmlDocCopyNode(c, fresh->doc, 1);
                                if (copy)
                                        xmlAddChild(fresh, copy);
                                has = true;
                        }
        }
}

char *xr_replace_keeping(struct xr *x, const char *path, const char *parent_path, const char *new_xml,
                         const char *const *keep) {
        xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST path, x->ctx);
        xmlNodePtr old = o && o->nodesetval && o->nodesetval->nodeNr ? o->nodesetval->nodeTab[0] : NULL;
        xmlXPathFreeObject(o);
        xmlNodePtr fresh = NULL;
        if (new_xml) {
                xmlDocPtr frag = xmlReadMemory(new_xml, (int) strlen(new_xml), NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
                if (!frag)
                        return NULL;
                fresh = xmlDocCopyNode(xmlDocGetRootElement(frag), x->doc, 1);
                xmlFreeDoc(frag);
        }
        if (old && fresh) {
                keep_children(old, fresh, keep);
                xmlReplaceNode(old, fresh);
                xmlFreeNode(old);
        }
        else if (old) {
                xmlUnlinkNode(old);
                xmlFreeNode(old);
        } else if (fresh) {
                o = xmlXPathEvalExpression(BAD_CAST parent_path, x->ctx);
                xmlNodePtr parent = o && o->nodesetval && o->nodesetval->nodeNr ? o->nodesetval->nodeTab[0] : NULL;
                xmlXPathFreeObject(o);
                if (!parent) {
                        xmlFreeNode(fresh);
                        return NULL;
                }
                xmlAddChild(parent, fresh);
        }
        xmlChar *mem = NULL;
        int len = 0;
        xmlDocDumpMemory(x->doc, &mem, &len);
        char *out = mem ? xstrdup((const char *) mem) : NULL;
        xmlFree(mem);
        return out;
}
