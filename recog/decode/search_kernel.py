"""The numba kernel of the CTC prefix beam search (no Python objects inside).

Algorithm: CTC prefix beam search (Graves & Jaitly, "Towards end-to-end
speech recognition with recurrent neural networks", ICML 2014; Hannun et al.,
"First-pass large vocabulary continuous speech recognition using
bi-directional recurrent DNNs", arXiv:1408.2873, 2014). Every hypothesis is a
label prefix with two acoustic log-probabilities, p_b (paths ending in blank)
and p_nb (paths ending in its last label); per frame t and token c:

    prefix  --blank-->  prefix          p_b'  += (p_b + p_nb) * y_t(blank)
    prefix  --last-->   prefix          p_nb' += p_nb * y_t(last)
    prefix  --c-->      prefix + c      p_nb' += (p_b + p_nb) * y_t(c)   (c != last)
                                        p_nb' += p_b * y_t(c)            (c == last)

Prefixes live in a prefix tree (`ints`/`floats` rows, row 0 = the empty
prefix) so that two ways of reaching one prefix merge into one row, and so
that everything that is a function of the prefix alone (LM state, LM score,
word count, partial word, hotword match) is computed once, when the row is
created. The ranking score is `log(p_b + p_nb) + bonus`, with

    bonus = alpha * log P_LM + beta * words + hotword bonus + OOV penalties
            (+ the look-ahead estimate of a partial word under a word LM).

After the last frame each survivor is finalized (the partial word and `</s>`
scored) and the N best are aligned to the frames by CTC Viterbi forced
alignment to give each token's first and last frame.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from recog.decode.hashtable import _mix, ht_get
from recog.decode.lm import META_BOS_STATE, META_EOS, META_UNK, lm_score

NEG_INF = -np.inf

# Integer fields of a prefix-tree row.
I_PARENT = 0
I_TOKEN = 1  # last label of the prefix (0 for the empty prefix)
I_LMSTATE = 2
I_WORDNODE = 3  # word-trie node of the partial word: 0 = none yet, -1 = left the trie (OOV)
I_HOTNODE = 4
I_DEAD = 5  # 1: the extension is forbidden (lexicon)
I_SLOT_T = 6  # frame at which `I_SLOT` was assigned
I_SLOT = 7  # row in the next-frame arrays
I_OOVRUN = 8  # 1: the last completed word was out of vocabulary (word LM)
I_WORDLEN = 9  # tokens in the partial word
N_INT = 10
# Float fields.
F_BONUS = 0  # all non-acoustic score terms
F_LMSCORE = 1  # raw natural-log LM probability of completed units
F_PENDING = 2  # provisional word-LM term inside F_BONUS (look-ahead / OOV estimate)
N_FLOAT = 3

# fparams
P_ALPHA = 0
P_BETA = 1
P_TOKEN_MIN_LOGP = 2
P_BEAM_THRESHOLD = 3
P_BLANK_SKIP_LOGP = 4
P_UNK_CHAR = 5  # added per token of an out-of-vocabulary word (word LM)
P_UNK_UNIGRAM = 6  # natural-log unigram p(<unk>)
P_INVALID = 7  # score of a hypothesis that ends inside a word not in the lexicon
P_HOT_MAX = 8  # the largest hotword weight per token (what a hotword token can add)
N_FPARAMS = 9
# iparams
Q_BEAM_WIDTH = 0
Q_TOKEN_TOP_K = 1
Q_NUM_RESULTS = 2
Q_LM_MODE = 3
Q_CONSTRAIN = 4  # 1: words must be in the trie (lexicon)
Q_HOTWORDS = 5
Q_SPACE = 6  # token id of the word separator, -1 if none
Q_LOOKAHEAD = 7
Q_HAS_TRIE = 8
Q_EXACT_EXT = 9  # 1: a child's bonus equals its parent's (no LM, lexicon or hotwords)
Q_ALIGN = 10  # 1: align the results to frames (token timestamps)
N_IPARAMS = 11

LM_NONE = 0
LM_CHAR = 1
LM_WORD = 2


@njit(cache=True, nogil=True, inline="always")
def _lae(a: float, b: float) -> float:
    """log(exp(a) + exp(b))."""
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + np.log1p(np.exp(b - a))


@njit(cache=True, nogil=True)
def _complete_word(lm, trie, wnode, wordlen, state, oov_run, fp):
    """Score the partial word at trie node `wnode` (-1: off the trie) under a word LM.

    Returns (bonus term, raw LM log p, next state, 1 if the word is out of vocabulary).
    An out-of-vocabulary word pays `unk_char_score` per token, and the first
    one of a run also `alpha * log p(<unk> | history)`: a run of unknown words
    is one unknown event to the LM, so that splitting unknown text into words
    costs the same as gluing it into one (acoustics and beta decide), while an
    unknown word is never cheaper than it would be alone.
    """
    unk = lm.meta[META_UNK]
    wid = trie.word[wnode] if wnode > 0 else -1
    if wid < 0:
        wid = unk
    if wid == unk:
        term = fp[P_UNK_CHAR] * wordlen
        if oov_run:
            return term, 0.0, state, 1
        lp, nxt = lm_score(lm, np.int64(state), np.int64(wid))
        return term + fp[P_ALPHA] * lp, lp, nxt, 1
    lp, nxt = lm_score(lm, np.int64(state), np.int64(wid))
    return fp[P_ALPHA] * lp, lp, nxt, 0


@njit(cache=True, nogil=True, inline="always")
def _oov_estimate(wordlen, oov_run, fp):
    """Provisional score of a partial word that can no longer become a known word."""
    est = fp[P_UNK_CHAR] * wordlen
    if not oov_run:
        est += fp[P_ALPHA] * fp[P_UNK_UNIGRAM]
    return est


@njit(cache=True, nogil=True, inline="always")
def _slot(hkeys, key):
    """Slot of `key` in the open-addressing child map: where it is, or the empty slot to fill."""
    mask = hkeys.shape[0] - 1
    i = np.int64(_mix(key) & np.uint64(mask))
    while hkeys[i] != key and hkeys[i] != -1:
        i = (i + 1) & mask
    return i


@njit(cache=True, nogil=True)
def _rehash(ints, n_rows, vsize, cap):
    """A child map of capacity `cap` (power of two) holding rows 1..n_rows-1."""
    hkeys = np.empty(cap, np.int64)  # np.empty and a loop: np.full compiles more (recog/_cache.py)
    for i in range(cap):
        hkeys[i] = -1
    hvals = np.empty(cap, np.int32)
    for x in range(1, n_rows):
        key = np.int64(ints[x, I_PARENT]) * vsize + ints[x, I_TOKEN]
        i = _slot(hkeys, key)
        hkeys[i] = key
        hvals[i] = x
    return hkeys, hvals


@njit(cache=True, nogil=True)
def _child(ints, floats, n_rows, hkeys, hvals, p, c, vsize, char_lm, word_lm, trie, hot, tok2lm, fp, ip):
    """Row of prefix p + c, created on first use. Returns (row or -1 if forbidden, n_rows).

    The caller keeps the child map `hkeys/hvals` under half full.
    """
    key = np.int64(p) * vsize + c
    h = _slot(hkeys, key)
    if hkeys[h] == key:
        x = hvals[h]
        return (-1 if ints[x, I_DEAD] else x), n_rows
    x = n_rows
    space = ip[Q_SPACE]
    last = ints[p, I_TOKEN]
    at_start = p == 0 or last == space
    bonus = floats[p, F_BONUS]
    lms = floats[p, F_LMSCORE]
    pending = floats[p, F_PENDING]
    state = ints[p, I_LMSTATE]
    wnode = ints[p, I_WORDNODE]
    hnode = ints[p, I_HOTNODE]
    oov_run = ints[p, I_OOVRUN]
    wordlen = ints[p, I_WORDLEN]
    dead = 0
    if c == space:
        if not at_start:
            if trie is not None and ip[Q_CONSTRAIN] and (wnode <= 0 or trie.word[wnode] == -1):
                dead = 1
            if word_lm is not None:
                term, lp, state, oov_run = _complete_word(word_lm, trie, wnode, wordlen, state, oov_run, fp)
                bonus += term - pending
                pending = 0.0
                lms += lp
        if char_lm is not None:
            lp, state = lm_score(char_lm, np.int64(state), np.int64(tok2lm[c]))
            bonus += fp[P_ALPHA] * lp
            lms += lp
        wnode = 0
        wordlen = 0
    else:
        wordlen += 1
        if at_start:
            bonus += fp[P_BETA]
        if char_lm is not None:
            lp, state = lm_score(char_lm, np.int64(state), np.int64(tok2lm[c]))
            bonus += fp[P_ALPHA] * lp
            lms += lp
        if trie is not None and ip[Q_HAS_TRIE]:
            nxt = ht_get(trie.keys, trie.vals, wnode * vsize + c) if wnode >= 0 else -1
            if nxt < 0 and ip[Q_CONSTRAIN]:
                dead = 1
            if word_lm is not None:
                if nxt >= 0:
                    new_pending = fp[P_ALPHA] * trie.best[nxt] if ip[Q_LOOKAHEAD] else 0.0
                else:
                    new_pending = _oov_estimate(wordlen, oov_run, fp)
                bonus += new_pending - pending
                pending = new_pending
            wnode = nxt
    if hot is not None:
        if hnode == 0:
            if at_start and c != space:
                nxt = ht_get(hot.keys, hot.vals, c)
                if nxt > 0:
                    bonus += hot.score[nxt]
                    hnode = nxt
        else:
            nxt = ht_get(hot.keys, hot.vals, hnode * vsize + c)
            if nxt > 0:
                bonus += hot.score[nxt] - hot.score[hnode]
                hnode = nxt
            elif c == space and hot.final[hnode]:
                hnode = 0  # phrase completed at a word boundary: its bonus stays
            else:
                bonus += hot.keep[hnode] - hot.score[hnode]
                hnode = 0
    hkeys[h] = key
    hvals[h] = x
    ints[x, I_PARENT] = p
    ints[x, I_TOKEN] = c
    ints[x, I_LMSTATE] = state
    ints[x, I_WORDNODE] = wnode
    ints[x, I_HOTNODE] = hnode
    ints[x, I_DEAD] = dead
    ints[x, I_OOVRUN] = oov_run
    ints[x, I_WORDLEN] = wordlen
    ints[x, I_SLOT_T] = -1
    ints[x, I_SLOT] = -1
    floats[x, F_BONUS] = bonus
    floats[x, F_LMSCORE] = lms
    floats[x, F_PENDING] = pending
    return (-1 if dead else x), n_rows + 1


@njit(cache=True, nogil=True)
def _finalize(ints, floats, x, char_lm, word_lm, trie, hot, fp, ip):
    """(bonus, lm score) of prefix x once the utterance ends: partial word, </s>, open hotword."""
    bonus = floats[x, F_BONUS]
    lms = floats[x, F_LMSCORE]
    space = ip[Q_SPACE]
    state = ints[x, I_LMSTATE]
    wnode = ints[x, I_WORDNODE]
    mid_word = x != 0 and ints[x, I_TOKEN] != space
    if mid_word and trie is not None and ip[Q_CONSTRAIN] and (wnode <= 0 or trie.word[wnode] == -1):
        bonus += fp[P_INVALID]
    if word_lm is not None:
        if mid_word:
            term, lp, state, _ = _complete_word(word_lm, trie, wnode, ints[x, I_WORDLEN], state, ints[x, I_OOVRUN], fp)
            bonus += term - floats[x, F_PENDING]
            lms += lp
        lp, state = lm_score(word_lm, np.int64(state), np.int64(word_lm.meta[META_EOS]))
        bonus += fp[P_ALPHA] * lp
        lms += lp
    if char_lm is not None:
        lp, state = lm_score(char_lm, np.int64(state), np.int64(char_lm.meta[META_EOS]))
        bonus += fp[P_ALPHA] * lp
        lms += lp
    hnode = ints[x, I_HOTNODE]
    if hot is not None and hnode > 0 and not hot.final[hnode]:
        bonus += hot.keep[hnode] - hot.score[hnode]
    return bonus, lms


@njit(cache=True, nogil=True)
def ctc_align(log_probs, length, tokens, n_tokens, frames):
    """CTC Viterbi forced alignment: frames[j] = (first, last) frame where token j is emitted.

    Best single path through the blank-interleaved label sequence
    (Graves et al., ICML 2006, section 4.1 lattice). Returns the path's
    log-probability (-inf and frames -1 when the labels do not fit in `length` frames).
    """
    n_states = 2 * n_tokens + 1
    T = length
    score = np.empty(n_states)
    prev = np.empty(n_states)
    back = np.empty((max(T, 1), n_states), np.int8)  # row 0 is read (zeros), rows 1.. are written
    for s in range(n_states):
        score[s] = NEG_INF
        back[0, s] = 0
    for j in range(n_tokens):
        frames[j, 0] = -1
        frames[j, 1] = -1
    if T == 0:
        return 0.0 if n_tokens == 0 else NEG_INF
    score[0] = log_probs[0, 0]
    if n_tokens > 0:
        score[1] = log_probs[0, tokens[0]]
    for t in range(1, T):
        for s in range(n_states):
            prev[s] = score[s]
        for s in range(n_states):
            lab = 0 if s % 2 == 0 else tokens[s // 2]
            best = prev[s]
            step = 0
            if s >= 1 and prev[s - 1] > best:
                best = prev[s - 1]
                step = 1
            if s >= 2 and lab != 0 and lab != tokens[s // 2 - 1] and prev[s - 2] > best:
                best = prev[s - 2]
                step = 2
            score[s] = best + log_probs[t, lab]
            back[t, s] = step
    s = n_states - 1
    if n_states >= 2 and score[n_states - 2] > score[s]:
        s = n_states - 2
    total = score[s]
    if total == NEG_INF:
        return total
    for t in range(T - 1, -1, -1):
        if s % 2 == 1:
            j = s // 2
            if frames[j, 1] < 0:
                frames[j, 1] = t
            frames[j, 0] = t
        s -= np.int64(back[t, s])
    return total


@njit(cache=True, nogil=True)
def _heap_push(heap, n, value):
    """Keep the `heap.shape[0]` largest values pushed so far in a binary min-heap; returns the size."""
    cap = heap.shape[0]
    if n < cap:
        i = n
        heap[i] = value
        while i > 0:
            parent = (i - 1) // 2
            if heap[parent] <= heap[i]:
                break
            heap[parent], heap[i] = heap[i], heap[parent]
            i = parent
        return n + 1
    if value <= heap[0]:
        return n
    heap[0] = value
    i = 0
    while True:
        left = 2 * i + 1
        if left >= cap:
            break
        small = left
        if left + 1 < cap and heap[left + 1] < heap[left]:
            small = left + 1
        if heap[i] <= heap[small]:
            break
        heap[i], heap[small] = heap[small], heap[i]
        i = small
    return n


@njit(cache=True, nogil=True)
def _keep_top_k(cand, cand_lp, n, k):
    """Reorder `cand[:n]` (and `cand_lp`) so that the first `k` hold the k largest `cand_lp`,
    largest first; equal values keep their order (a stable partial sort, k small)."""
    m = 0
    for j in range(n):
        c = cand[j]
        v = cand_lp[j]
        if m == k:
            if v <= cand_lp[k - 1]:
                continue
            i = k - 1
        else:
            i = m
            m += 1
        while i > 0 and cand_lp[i - 1] < v:
            cand[i] = cand[i - 1]
            cand_lp[i] = cand_lp[i - 1]
            i -= 1
        cand[i] = c
        cand_lp[i] = v


@njit(cache=True, nogil=True)
def _order_desc(vals, n):
    """Indices of `vals[:n]`, largest first; equal values keep their order (insertion sort, n small)."""
    order = np.empty(n, np.int64)
    for j in range(n):
        v = vals[j]
        i = j
        while i > 0 and vals[order[i - 1]] < v:
            order[i] = order[i - 1]
            i -= 1
        order[i] = j
    return order


@njit(cache=True, nogil=True, inline="always")
def _sift_down(vals, idx, i, n):
    while True:
        left = 2 * i + 1
        if left >= n:
            return
        big = left
        if left + 1 < n and vals[idx[left + 1]] > vals[idx[left]]:
            big = left + 1
        if vals[idx[i]] >= vals[idx[big]]:
            return
        idx[i], idx[big] = idx[big], idx[i]
        i = big


@njit(cache=True, nogil=True)
def _max_heapify(vals, idx, n):
    """Arrange idx[:n] as a binary max-heap keyed by vals[idx] (Floyd's O(n) construction)."""
    for i in range(n // 2 - 1, -1, -1):
        _sift_down(vals, idx, i, n)


@njit(cache=True, nogil=True)
def _max_heap_pop(vals, idx, n):
    """Remove the root of the max-heap idx[:n]; returns the new size."""
    n -= 1
    idx[0] = idx[n]
    _sift_down(vals, idx, 0, n)
    return n


@njit(cache=True, nogil=True)
def beam_search_kernel(log_probs, length, char_lm, word_lm, trie, hot, tok2lm, fp, ip, out_tokens, out_frames, out_lengths,
                       out_scores):
    """Decode frames [0, length) of one `[T, V]` log-prob matrix into the N best prefixes.

    Writes, for result r < min(num_results, survivors): out_tokens[r, :n] token ids,
    out_frames[r, :n] (first, last) frame per token, out_lengths[r] = n and
    out_scores[r] = (total score, acoustic log p, raw LM log p). Other rows get length -1.
    Returns the number of results written.

    `char_lm` / `word_lm`: the LM's `LMTables` when it scores characters / words, else None;
    `trie`: the word trie's tables (lexicon or word LM), else None; `hot`: the hotword
    tables, else None. numba compiles one kernel per combination of present parts and
    prunes the code of the absent ones before typing (`x is not None` on an argument
    typed None is a constant), so a beam search with a character LM and no lexicon or
    hotwords compiles a fifth faster than the kernel with everything, and one without
    an LM a third faster.
    """
    vsize = log_probs.shape[1]
    beam_width = ip[Q_BEAM_WIDTH]
    top_k = ip[Q_TOKEN_TOP_K]
    token_min = fp[P_TOKEN_MIN_LOGP]
    threshold = fp[P_BEAM_THRESHOLD]
    blank_skip = fp[P_BLANK_SKIP_LOGP]
    cap = max(1024, 16 * beam_width)
    ints = np.empty((cap, N_INT), np.int32)
    floats = np.empty((cap, N_FLOAT), np.float64)
    ints[0, I_PARENT] = -1
    ints[0, I_TOKEN] = 0
    ints[0, I_LMSTATE] = 0
    if char_lm is not None:
        ints[0, I_LMSTATE] = char_lm.meta[META_BOS_STATE]
    if word_lm is not None:
        ints[0, I_LMSTATE] = word_lm.meta[META_BOS_STATE]
    ints[0, I_WORDNODE] = 0
    ints[0, I_HOTNODE] = 0
    ints[0, I_DEAD] = 0
    ints[0, I_SLOT_T] = -1
    ints[0, I_SLOT] = -1
    ints[0, I_OOVRUN] = 0
    ints[0, I_WORDLEN] = 0
    floats[0, :] = 0.0
    # Counters that flow through calls start as int64, not as integer literals: numba would
    # otherwise compile each callee twice (once for the literal, once for int64).
    n_rows = np.int64(1)
    hcap = 1
    while hcap < 2 * cap:
        hcap *= 2
    hkeys, hvals = _rehash(ints, n_rows, vsize, hcap)

    max_next = beam_width * vsize + 1
    beam = np.empty(beam_width, np.int32)
    pb = np.empty(beam_width)
    pnb = np.empty(beam_width)
    nxt_row = np.empty(max_next, np.int32)
    nxt_pb = np.empty(max_next)
    nxt_pnb = np.empty(max_next)
    nxt_score = np.empty(max_next)
    heap = np.empty(beam_width)
    ext_beam = np.empty(max_next, np.int64)
    ext_tok = np.empty(max_next, np.int64)
    ext_am = np.empty(max_next)
    ext_opt = np.empty(max_next)
    ext_order = np.empty(max_next, np.int64)
    exact_ext = ip[Q_EXACT_EXT] != 0
    space = ip[Q_SPACE]
    beta_gain = max(fp[P_BETA], 0.0)
    cand = np.empty(vsize, np.int64)
    cand_lp = np.empty(vsize)
    beam[0] = 0
    pb[0] = 0.0
    pnb[0] = NEG_INF
    n_beam = np.int64(1)
    best_prev = 0.0

    for t in range(length):
        lp = log_probs[t]
        lp0 = lp[0]
        frame_max = lp0
        n_cand = np.int64(0)
        if lp0 < blank_skip:
            for v in range(1, vsize):
                lv = lp[v]
                if lv > frame_max:
                    frame_max = lv
                if lv >= token_min:
                    cand[n_cand] = v
                    cand_lp[n_cand] = lv
                    n_cand += 1
            if n_cand > top_k:
                _keep_top_k(cand, cand_lp, n_cand, top_k)
                n_cand = top_k
        if n_cand == 0:
            # Only blank and repeats: the set of prefixes does not change.
            best_prev = NEG_INF
            for i in range(n_beam):
                last = ints[beam[i], I_TOKEN]
                total = _lae(pb[i], pnb[i])
                pnb[i] = pnb[i] + lp[last] if last > 0 else NEG_INF
                pb[i] = total + lp0
                s = _lae(pb[i], pnb[i]) + floats[beam[i], F_BONUS]
                if s > best_prev:
                    best_prev = s
            continue

        need = n_rows + n_beam * n_cand + 1
        if need > cap:
            cap = max(2 * cap, need)
            grown_i = np.empty((cap, N_INT), np.int32)
            grown_f = np.empty((cap, N_FLOAT), np.float64)
            for x in range(n_rows):  # element loops: a slice copy compiles numba's shape-error path
                for f in range(N_INT):
                    grown_i[x, f] = ints[x, f]
                for f in range(N_FLOAT):
                    grown_f[x, f] = floats[x, f]
            ints = grown_i
            floats = grown_f
        if 2 * need > hkeys.shape[0]:
            hcap = hkeys.shape[0]
            while hcap < 4 * need:
                hcap *= 2
            hkeys, hvals = _rehash(ints, n_rows, vsize, hcap)
        cutoff = best_prev + frame_max - threshold
        # Every prefix carries over (blank, repeat). Its score there is a lower bound of
        # its next-frame score, since merging only adds to it.
        n_next = 0
        n_heap = np.int64(0)
        for i in range(n_beam):
            p = beam[i]
            last = ints[p, I_TOKEN]
            total = _lae(pb[i], pnb[i])
            ints[p, I_SLOT_T] = t
            ints[p, I_SLOT] = n_next
            nxt_row[n_next] = p
            nxt_pb[n_next] = total + lp0
            nxt_pnb[n_next] = pnb[i] + lp[last] if last > 0 else NEG_INF
            n_heap = _heap_push(heap, n_heap, _lae(nxt_pb[n_next], nxt_pnb[n_next]) + floats[p, F_BONUS])
            n_next += 1
        # Extensions, created best first by an upper bound of their score. The heap
        # keeps the best beam_width lower bounds of distinct prefixes; once it is full,
        # an extension whose upper bound is below its root cannot enter the beam, and
        # neither can any after it. Without LM, lexicon or hotwords the bounds are exact.
        n_ext = np.int64(0)
        for i in range(n_beam):
            p = beam[i]
            last = ints[p, I_TOKEN]
            total = _lae(pb[i], pnb[i])
            # Upper bound of the child's bonus: a token adds at most the best LM log-prob
            # after the parent's LM state, beta when it starts a word and one hotword
            # weight; look-ahead estimates only fall along a word, and completing a word
            # (a space) at most refunds its estimate.
            p_best = floats[p, F_BONUS]
            at_start = p == 0 or last == space
            space_gain = 0.0
            if not exact_ext:
                p_best += fp[P_HOT_MAX]
                if char_lm is not None:
                    p_best += fp[P_ALPHA] * char_lm.state_max[ints[p, I_LMSTATE]]
                if word_lm is not None and not at_start:
                    space_gain = -floats[p, F_PENDING]
                    if ints[p, I_OOVRUN] == 0:
                        space_gain += fp[P_ALPHA] * word_lm.state_max[ints[p, I_LMSTATE]]
            for j in range(n_cand):
                c = cand[j]
                ext = (pb[i] if c == last else total) + lp[c]
                opt = ext + p_best
                if c == space:
                    opt += space_gain
                elif at_start:
                    opt += beta_gain
                if ext == NEG_INF or opt < cutoff:
                    continue
                ext_beam[n_ext] = i
                ext_tok[n_ext] = c
                ext_am[n_ext] = ext
                ext_opt[n_ext] = opt
                n_ext += 1
        # Best first by upper bound (a max-heap of extension indices); stop at the first
        # that cannot reach the root of the full lower-bound heap.
        for e in range(n_ext):
            ext_order[e] = e
        _max_heapify(ext_opt, ext_order, n_ext)
        n_left = np.int64(n_ext)
        while n_left > 0:
            e = ext_order[0]
            n_left = _max_heap_pop(ext_opt, ext_order, n_left)
            if n_heap == heap.shape[0] and ext_opt[e] < heap[0]:
                break
            p = beam[ext_beam[e]]
            x, n_rows = _child(ints, floats, n_rows, hkeys, hvals, p, ext_tok[e], vsize, char_lm, word_lm, trie, hot,
                               tok2lm, fp, ip)
            if x < 0:
                continue
            fresh = ints[x, I_SLOT_T] != t
            if fresh:
                ints[x, I_SLOT_T] = t
                ints[x, I_SLOT] = n_next
                nxt_row[n_next] = x
                nxt_pb[n_next] = NEG_INF
                nxt_pnb[n_next] = NEG_INF
                n_next += 1
            k = ints[x, I_SLOT]
            nxt_pnb[k] = _lae(nxt_pnb[k], ext_am[e])
            if fresh:
                # One bound per distinct prefix: the heap needs only beam_width entries.
                n_heap = _heap_push(heap, n_heap, ext_am[e] + floats[x, F_BONUS])

        best = NEG_INF
        for k in range(n_next):
            s = _lae(nxt_pb[k], nxt_pnb[k]) + floats[nxt_row[k], F_BONUS]
            nxt_score[k] = s
            if s > best:
                best = s
        floor = max(best - threshold, -1e300)  # never keep impossible prefixes
        n_beam = np.int64(0)
        if n_next <= beam_width:
            for k in range(n_next):
                if nxt_score[k] >= floor:
                    beam[n_beam] = nxt_row[k]
                    pb[n_beam] = nxt_pb[k]
                    pnb[n_beam] = nxt_pnb[k]
                    n_beam += 1
        else:
            # The beam_width-th best score (the root of a min-heap of the beam_width best);
            # entries above it first, then ties with it, so that ties never push out a better entry.
            n_top = np.int64(0)
            for k in range(n_next):
                n_top = _heap_push(heap, n_top, nxt_score[k])
            kth = heap[0]
            if kth >= floor:
                for k in range(n_next):
                    if nxt_score[k] > kth:
                        beam[n_beam] = nxt_row[k]
                        pb[n_beam] = nxt_pb[k]
                        pnb[n_beam] = nxt_pnb[k]
                        n_beam += 1
                for k in range(n_next):
                    if n_beam == beam_width:
                        break
                    if nxt_score[k] == kth:
                        beam[n_beam] = nxt_row[k]
                        pb[n_beam] = nxt_pb[k]
                        pnb[n_beam] = nxt_pnb[k]
                        n_beam += 1
            else:
                for k in range(n_next):
                    if nxt_score[k] >= floor:
                        beam[n_beam] = nxt_row[k]
                        pb[n_beam] = nxt_pb[k]
                        pnb[n_beam] = nxt_pnb[k]
                        n_beam += 1
        best_prev = best

    # Finalize, rank, trace back and align the N best.
    final = np.empty(n_beam)
    lm_part = np.empty(n_beam)
    am_part = np.empty(n_beam)
    for i in range(n_beam):
        am = _lae(pb[i], pnb[i])
        bonus, lms = _finalize(ints, floats, beam[i], char_lm, word_lm, trie, hot, fp, ip)
        final[i] = am + bonus
        am_part[i] = am
        lm_part[i] = lms
    order = _order_desc(final, n_beam)
    n_out = min(ip[Q_NUM_RESULTS], n_beam, out_tokens.shape[0])
    for r in range(out_tokens.shape[0]):
        out_lengths[r] = -1
    for r in range(n_out):
        i = order[r]
        x = beam[i]
        depth = np.int64(0)
        y = x
        while y != 0:
            depth += 1
            y = ints[y, I_PARENT]
        y = x
        for j in range(depth - 1, -1, -1):
            out_tokens[r, j] = ints[y, I_TOKEN]
            y = ints[y, I_PARENT]
        out_lengths[r] = depth
        out_scores[r, 0] = final[i]
        out_scores[r, 1] = am_part[i]
        out_scores[r, 2] = lm_part[i]
        if ip[Q_ALIGN]:
            ctc_align(log_probs, length, out_tokens[r], depth, out_frames[r])
        else:
            out_frames[r, :depth] = -1
    return n_out


@njit(cache=True, nogil=True, parallel=True)
def beam_search_batch_kernel(log_probs, lengths, order, char_lm, word_lm, trie, hot, tok2lm, fp, ip, out_tokens, out_frames,
                             out_lengths, out_scores):
    """`beam_search_kernel` over a batch `[B, T, V]`, utterances spread over threads with prange.

    `order` lists the utterances longest first, so that the dynamic schedule
    (chunk size 1, set by the caller) finishes the long ones early.
    """
    for i in prange(order.shape[0]):
        b = order[i]
        beam_search_kernel(
            log_probs[b], lengths[b], char_lm, word_lm, trie, hot, tok2lm, fp, ip,
            out_tokens[b], out_frames[b], out_lengths[b], out_scores[b],
        )
