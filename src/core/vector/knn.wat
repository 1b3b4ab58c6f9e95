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
      (br_if $panelLoop (i32.lt_u (local.get $p) (local.get $panels))))))
