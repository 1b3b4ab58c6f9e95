;; Blocked integer dot-product microkernel for exact nearest-neighbour voting (docs/VOTING.md).
;; Source of src/core/vector/knnWasm.ts: `node scripts/build-wasm.mjs` assembles it with wabt (npm), and
;; test/core/vector/knnWasm.test.ts checks that the committed bytes are this file assembled.
;;
;; The JS driver (src/core/vector/knn.ts) quantises every row to 16-bit integers (a power-of-two scale per row) and
;; owns the memory layout; this module only multiplies packed panels, two dimensions ("a pair") per step:
;;   queries, per depth chunk of kc pairs:    [group of 4 rows][pair < kc][row r < 4][2 × i16]   (16 bytes per pair)
;;   candidates, per depth chunk:             [panel of 8 rows][pair < kc][row r < 8][2 × i16]   (32 bytes per pair)
;;   out: a row-major i32 tile, out[i · outStride + j] = Σ_t q[i][t] · c[j][t] over the chunk
;; The microkernel keeps a 4 × 8 block of dot products in eight i32x4 registers. Per pair it broadcasts one query's
;; two values (v128.load32_splat) against two vectors of four candidates' two values, and i32x4.dot_i16x8_s
;; multiplies and adds each lane's pair (x86 pmaddwd: 8 multiply-adds per instruction, twice f32x4's 4)
;; (Goto & van de Geijn 2008, §4–5). Integer sums are exact: the driver chooses the integer range so that no sum can
;; overflow (d · Q² < 2³¹), so the result does not depend on the CPU or on the order of the additions.
;; The depth loop runs at least once: the guard at the top returns when kc, groups or panels is 0.
(module
  (memory (export "memory") 1)

  ;; tile(qp, groups, cp, panels, kc, out, outStride, accumulate)
  ;;   qp: packed query chunk (groups · kc · 16 bytes); cp: packed candidate chunk (panels · kc · 32 bytes);
  ;;   kc: pairs of dimensions in the chunk; out: byte address of the tile; outStride: bytes between tile rows;
  ;;   accumulate: 0 = overwrite, 1 = add
  (func (export "tile")
    (param $qp i32) (param $groups i32) (param $cp i32) (param $panels i32) (param $kc i32)
    (param $out i32) (param $outStride i32) (param $accumulate i32)
    (local $p i32) (local $g i32) (local $c i32) (local $q i32) (local $cEnd i32) (local $cPanel i32)
    (local $o i32) (local $qGroup i32) (local $a v128) (local $c0 v128) (local $c1 v128)
    (local $s00 v128) (local $s01 v128) (local $s10 v128) (local $s11 v128)
    (local $s20 v128) (local $s21 v128) (local $s30 v128) (local $s31 v128)
    (if (i32.or (i32.eqz (local.get $panels)) (i32.or (i32.eqz (local.get $groups)) (i32.eqz (local.get $kc))))
      (then (return)))
    (local.set $p (i32.const 0))
    (loop $panelLoop
      (local.set $cPanel (i32.add (local.get $cp) (i32.mul (local.get $p) (i32.shl (local.get $kc) (i32.const 5)))))
      (local.set $g (i32.const 0))
      (loop $groupLoop
        (local.set $qGroup (i32.add (local.get $qp) (i32.mul (local.get $g) (i32.shl (local.get $kc) (i32.const 4)))))
        (local.set $o
          (i32.add (i32.add (local.get $out) (i32.shl (local.get $p) (i32.const 5)))
            (i32.mul (i32.shl (local.get $g) (i32.const 2)) (local.get $outStride))))
        (if (local.get $accumulate)
          (then
            (local.set $s00 (v128.load (local.get $o)))
            (local.set $s01 (v128.load offset=16 (local.get $o)))
            (local.set $s10 (v128.load (i32.add (local.get $o) (local.get $outStride))))
            (local.set $s11 (v128.load offset=16 (i32.add (local.get $o) (local.get $outStride))))
            (local.set $s20 (v128.load (i32.add (local.get $o) (i32.shl (local.get $outStride) (i32.const 1)))))
            (local.set $s21 (v128.load offset=16 (i32.add (local.get $o) (i32.shl (local.get $outStride) (i32.const 1)))))
            (local.set $s30 (v128.load (i32.add (local.get $o) (i32.mul (local.get $outStride) (i32.const 3)))))
            (local.set $s31 (v128.load offset=16 (i32.add (local.get $o) (i32.mul (local.get $outStride) (i32.const 3))))))
          (else
            (local.set $s00 (v128.const i32x4 0 0 0 0))
            (local.set $s01 (v128.const i32x4 0 0 0 0))
            (local.set $s10 (v128.const i32x4 0 0 0 0))
            (local.set $s11 (v128.const i32x4 0 0 0 0))
            (local.set $s20 (v128.const i32x4 0 0 0 0))
            (local.set $s21 (v128.const i32x4 0 0 0 0))
            (local.set $s30 (v128.const i32x4 0 0 0 0))
            (local.set $s31 (v128.const i32x4 0 0 0 0))))
        (local.set $c (local.get $cPanel))
        (local.set $q (local.get $qGroup))
        (local.set $cEnd (i32.add (local.get $cPanel) (i32.shl (local.get $kc) (i32.const 5))))
        (loop $depthLoop
          (local.set $c0 (v128.load (local.get $c)))
          (local.set $c1 (v128.load offset=16 (local.get $c)))
          (local.set $a (v128.load32_splat (local.get $q)))
          (local.set $s00 (i32x4.add (i32x4.dot_i16x8_s (local.get $a) (local.get $c0)) (local.get $s00)))
          (local.set $s01 (i32x4.add (i32x4.dot_i16x8_s (local.get $a) (local.get $c1)) (local.get $s01)))
          (local.set $a (v128.load32_splat offset=4 (local.get $q)))
          (local.set $s10 (i32x4.add (i32x4.dot_i16x8_s (local.get $a) (local.get $c0)) (local.get $s10)))
          (local.set $s11 (i32x4.add (i32x4.dot_i16x8_s (local.get $a) (local.get $c1)) (local.get $s11)))
          (local.set $a (v128.load32_splat offset=8 (local.get $q)))
          (local.set $s20 (i32x4.add (i32x4.dot_i16x8_s (local.get $a) (local.get $c0)) (local.get $s20)))
          (local.set $s21 (i32x4.add (i32x4.dot_i16x8_s (local.get $a) (local.get $c1)) (local.get $s21)))
          (local.set $a (v128.load32_splat offset=12 (local.get $q)))
          (local.set $s30 (i32x4.add (i32x4.dot_i16x8_s (local.get $a) (local.get $c0)) (local.get $s30)))
          (local.set $s31 (i32x4.add (i32x4.dot_i16x8_s (local.get $a) (local.get $c1)) (local.get $s31)))
          (local.set $c (i32.add (local.get $c) (i32.const 32)))
          (local.set $q (i32.add (local.get $q) (i32.const 16)))
          (br_if $depthLoop (i32.lt_u (local.get $c) (local.get $cEnd))))
        (v128.store (local.get $o) (local.get $s00))
        (v128.store offset=16 (local.get $o) (local.get $s01))
        (local.set $o (i32.add (local.get $o) (local.get $outStride)))
        (v128.store (local.get $o) (local.get $s10))
        (v128.store offset=16 (local.get $o) (local.get $s11))
        (local.set $o (i32.add (local.get $o) (local.get $outStride)))
        (v128.store (local.get $o) (local.get $s20))
        (v128.store offset=16 (local.get $o) (local.get $s21))
        (local.set $o (i32.add (local.get $o) (local.get $outStride)))
        (v128.store (local.get $o) (local.get $s30))
        (v128.store offset=16 (local.get $o) (local.get $s31))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br_if $groupLoop (i32.lt_u (local.get $g) (local.get $groups))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br_if $panelLoop (i32.lt_u (local.get $p) (local.get $panels)))))

  ;; scan(tile, outStride, rows, cols, j0, fsc, biasLo, biasHi, rcF, cN, sq, qa, qg, tau, k, entries) → count
  ;; The short-list filter over one tile (docs/VOTING.md, "Exactness"). For tile row i and column jj (candidate
  ;; j = j0 + jj), with I the integer dot product, in float64:
  ;;   dot = sq[i]·fsc[j]·I,  e = qa[i]·rcF[j] + qg[i]·cN[j],  lo = biasLo[j] − dot − e,  hi = biasHi[j] − dot + e.
  ;; tau[i·k … i·k + k) holds row i's k smallest hi so far, ascending (k ≥ 1; +inf at the start). A candidate with
  ;; lo ≤ tau[i·k + k − 1] is written to `entries` as (i32 i, i32 j, f64 lo), 16 bytes each, in (i, j) order, and its
  ;; hi, when smaller, is inserted into tau. Returns the number of entries. The per-candidate arrays (f64) are indexed
  ;; by j and the per-row arrays (f64) by i; all addresses are bytes. Two candidates per step (f64x2); cols is a
  ;; multiple of 2 or the last odd column is done alone.
  (func (export "scan")
    (param $tile i32) (param $outStride i32) (param $rows i32) (param $cols i32) (param $j0 i32)
    (param $fsc i32) (param $biasLo i32) (param $biasHi i32) (param $rcF i32) (param $cN i32)
    (param $sq i32) (param $qa i32) (param $qg i32) (param $tau i32) (param $k i32) (param $entries i32)
    (result i32)
    (local $i i32) (local $jj i32) (local $j i32) (local $n i32) (local $row i32) (local $tauRow i32)
    (local $jb i32) (local $lane i32)
    (local $t f64) (local $lo f64) (local $hi f64) (local $dot f64) (local $e f64)
    (local $sqv v128) (local $av v128) (local $gv v128) (local $tv v128)
    (local $dot2 v128) (local $e2 v128) (local $lo2 v128)
    (local.set $n (i32.const 0))
    (local.set $i (i32.const 0))
    (block $rowsDone
      (br_if $rowsDone (i32.eqz (local.get $rows)))
      (loop $rowLoop
        (local.set $row (i32.add (local.get $tile) (i32.mul (local.get $i) (local.get $outStride))))
        (local.set $tauRow (i32.add (local.get $tau) (i32.shl (i32.mul (local.get $i) (local.get $k)) (i32.const 3))))
        (local.set $t (f64.load (i32.add (local.get $tauRow) (i32.shl (i32.sub (local.get $k) (i32.const 1)) (i32.const 3)))))
        (local.set $tv (f64x2.splat (local.get $t)))
        (local.set $sqv (f64x2.splat (f64.load (i32.add (local.get $sq) (i32.shl (local.get $i) (i32.const 3))))))
        (local.set $av (f64x2.splat (f64.load (i32.add (local.get $qa) (i32.shl (local.get $i) (i32.const 3))))))
        (local.set $gv (f64x2.splat (f64.load (i32.add (local.get $qg) (i32.shl (local.get $i) (i32.const 3))))))
        (local.set $jj (i32.const 0))
        (loop $pairLoop
          ;; jb: byte offset of candidate j = j0 + jj in the f64 arrays. A padded odd column reads the next
          ;; candidate's (or padding's) values and is never reported (lane check below).
          (local.set $jb (i32.shl (i32.add (local.get $j0) (local.get $jj)) (i32.const 3)))
          (local.set $dot2
            (f64x2.mul
              (f64x2.mul (local.get $sqv) (v128.load (i32.add (local.get $fsc) (local.get $jb))))
              (f64x2.convert_low_i32x4_s
                (v128.load64_zero (i32.add (local.get $row) (i32.shl (local.get $jj) (i32.const 2)))))))
          (local.set $e2
            (f64x2.add
              (f64x2.mul (local.get $av) (v128.load (i32.add (local.get $rcF) (local.get $jb))))
              (f64x2.mul (local.get $gv) (v128.load (i32.add (local.get $cN) (local.get $jb))))))
          (local.set $lo2
            (f64x2.sub (f64x2.sub (v128.load (i32.add (local.get $biasLo) (local.get $jb))) (local.get $dot2))
              (local.get $e2)))
          (if (v128.any_true (f64x2.le (local.get $lo2) (local.get $tv)))
            (then
              ;; Rare: one lane or both may enter the short list; in order, with tau updated in between.
              (local.set $lane (i32.const 0))
              (loop $laneLoop
                (local.set $j (i32.add (i32.add (local.get $j0) (local.get $jj)) (local.get $lane)))
                (if (i32.lt_u (i32.add (local.get $jj) (local.get $lane)) (local.get $cols))
                  (then
                    (if (local.get $lane)
                      (then
                        (local.set $lo (f64x2.extract_lane 1 (local.get $lo2)))
                        (local.set $dot (f64x2.extract_lane 1 (local.get $dot2)))
                        (local.set $e (f64x2.extract_lane 1 (local.get $e2))))
                      (else
                        (local.set $lo (f64x2.extract_lane 0 (local.get $lo2)))
                        (local.set $dot (f64x2.extract_lane 0 (local.get $dot2)))
                        (local.set $e (f64x2.extract_lane 0 (local.get $e2)))))
                    (if (f64.le (local.get $lo) (local.get $t))
                      (then
                        (i32.store (local.get $entries) (local.get $i))
                        (i32.store offset=4 (local.get $entries) (local.get $j))
                        (f64.store offset=8 (local.get $entries) (local.get $lo))
                        (local.set $entries (i32.add (local.get $entries) (i32.const 16)))
                        (local.set $n (i32.add (local.get $n) (i32.const 1)))
                        (local.set $hi
                          (f64.add
                            (f64.sub (f64.load (i32.add (local.get $biasHi) (i32.shl (local.get $j) (i32.const 3))))
                              (local.get $dot))
                            (local.get $e)))
                        (if (f64.lt (local.get $hi) (local.get $t))
                          (then (local.set $t (call $insert (local.get $tauRow) (local.get $k) (local.get $hi)))
                            (local.set $tv (f64x2.splat (local.get $t)))))))))
                (local.set $lane (i32.add (local.get $lane) (i32.const 1)))
                (br_if $laneLoop (i32.lt_u (local.get $lane) (i32.const 2))))))
          (local.set $jj (i32.add (local.get $jj) (i32.const 2)))
          (br_if $pairLoop (i32.lt_u (local.get $jj) (local.get $cols))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $rowLoop (i32.lt_u (local.get $i) (local.get $rows)))))
    (local.get $n))

  ;; insert(tauRow, k, hi) → new k-th value: hi goes into the ascending list tauRow[0 … k), dropping the last
  ;; (the caller checked hi < tauRow[k − 1]); a strict < keeps equal values in arrival order.
  (func $insert (param $tauRow i32) (param $k i32) (param $hi f64) (result f64)
    (local $p i32) (local $a i32)
    (local.set $p (i32.sub (local.get $k) (i32.const 1)))
    (block $done
      (loop $shift
        (br_if $done (i32.eqz (local.get $p)))
        (local.set $a (i32.add (local.get $tauRow) (i32.shl (local.get $p) (i32.const 3))))
        (br_if $done (i32.eqz (f64.lt (local.get $hi) (f64.load offset=0 (i32.sub (local.get $a) (i32.const 8))))))
        (f64.store (local.get $a) (f64.load (i32.sub (local.get $a) (i32.const 8))))
        (local.set $p (i32.sub (local.get $p) (i32.const 1)))
        (br $shift)))
    (f64.store (i32.add (local.get $tauRow) (i32.shl (local.get $p) (i32.const 3))) (local.get $hi))
    (f64.load (i32.add (local.get $tauRow) (i32.shl (i32.sub (local.get $k) (i32.const 1)) (i32.const 3))))))
