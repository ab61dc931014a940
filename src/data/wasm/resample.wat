;; The two passes of PIL's separable resampling on uint8 pixels, in WebAssembly SIMD.
;; The taps (first source index, count, 22-bit fixed-point weights per output) are
;; computed in JS (src/data/resample.ts); these loops only apply them. Arithmetic is
;; Pillow's: int32 accumulators starting at 1 << 21, shifted right by 22, clamped.
;;
;; Both passes may read up to 15 bytes past their last input byte and write up to 15
;; past their last output byte: the caller pads every buffer by 16 bytes.
;;
;; Compile with `node src/data/wasm/compile.mjs` (wabt), which writes resampleWasm.ts.
(module
  (memory (export "memory") 1)

  ;; Horizontal pass: `rows` rows of `src` (row stride `stride` bytes, `c` ≤ 4
  ;; channels per pixel) → `rows × outW × c` bytes at `out`. For output x the taps
  ;; are first[x] (pixel index), count[x], weights[x·taps …] (i32 arrays).
  (func (export "horizontal")
    (param $src i32) (param $stride i32) (param $rows i32) (param $c i32) (param $outW i32)
    (param $first i32) (param $count i32) (param $weights i32) (param $taps i32) (param $out i32)
    (local $y i32) (local $x i32) (local $k i32) (local $n i32) (local $p i32) (local $w i32)
    (local $row i32) (local $o i32) (local $acc v128)
    (local.set $o (local.get $out))
    (block $yDone
      (loop $yLoop
        (br_if $yDone (i32.ge_u (local.get $y) (local.get $rows)))
        (local.set $row (i32.add (local.get $src) (i32.mul (local.get $y) (local.get $stride))))
        (local.set $x (i32.const 0))
        (block $xDone
          (loop $xLoop
            (br_if $xDone (i32.ge_u (local.get $x) (local.get $outW)))
            (local.set $p (i32.add (local.get $row)
              (i32.mul (i32.load (i32.add (local.get $first) (i32.shl (local.get $x) (i32.const 2)))) (local.get $c))))
            (local.set $n (i32.load (i32.add (local.get $count) (i32.shl (local.get $x) (i32.const 2)))))
            (local.set $w (i32.add (local.get $weights) (i32.shl (i32.mul (local.get $x) (local.get $taps)) (i32.const 2))))
            (local.set $acc (i32x4.splat (i32.const 2097152)))
            (local.set $k (i32.const 0))
            (block $kDone
              (loop $kLoop
                (br_if $kDone (i32.ge_u (local.get $k) (local.get $n)))
                ;; One pixel's channels as i32 lanes (the 4th lane, and more when c < 3, is ignored).
                (local.set $acc (i32x4.add (local.get $acc)
                  (i32x4.mul
                    (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero (local.get $p))))
                    (i32x4.splat (i32.load (local.get $w))))))
                (local.set $p (i32.add (local.get $p) (local.get $c)))
                (local.set $w (i32.add (local.get $w) (i32.const 4)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $kLoop)))
            ;; >> 22, then saturating narrows clamp to 0…255; 4 bytes are written, the
            ;; next pixel overwrites the ones past c.
            (local.set $acc (i32x4.shr_s (local.get $acc) (i32.const 22)))
            (local.set $acc (i16x8.narrow_i32x4_s (local.get $acc) (local.get $acc)))
            (local.set $acc (i8x16.narrow_i16x8_u (local.get $acc) (local.get $acc)))
            (v128.store32_lane 0 (local.get $o) (local.get $acc))
            (local.set $o (i32.add (local.get $o) (local.get $c)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $xLoop)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $yLoop))))

  ;; Vertical pass: rows of `rowLen` bytes from `src` (row stride `stride`) →
  ;; `outH` rows of `rowLen` bytes at `out`, 16 bytes at a time. For output row y the
  ;; taps are first[y] (row index), count[y], weights[y·taps …].
  (func (export "vertical")
    (param $src i32) (param $stride i32) (param $rowLen i32) (param $outH i32)
    (param $first i32) (param $count i32) (param $weights i32) (param $taps i32) (param $out i32)
    (local $y i32) (local $i i32) (local $k i32) (local $n i32) (local $p i32) (local $w i32)
    (local $base i32) (local $wBase i32) (local $o i32)
    (local $v v128) (local $lo v128) (local $hi v128) (local $wv v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (block $yDone
      (loop $yLoop
        (br_if $yDone (i32.ge_u (local.get $y) (local.get $outH)))
        (local.set $base (i32.add (local.get $src)
          (i32.mul (i32.load (i32.add (local.get $first) (i32.shl (local.get $y) (i32.const 2)))) (local.get $stride))))
        (local.set $n (i32.load (i32.add (local.get $count) (i32.shl (local.get $y) (i32.const 2)))))
        (local.set $wBase (i32.add (local.get $weights) (i32.shl (i32.mul (local.get $y) (local.get $taps)) (i32.const 2))))
        (local.set $o (i32.add (local.get $out) (i32.mul (local.get $y) (local.get $rowLen))))
        (local.set $i (i32.const 0))
        (block $iDone
          (loop $iLoop
            (br_if $iDone (i32.ge_u (local.get $i) (local.get $rowLen)))
            (local.set $a0 (i32x4.splat (i32.const 2097152)))
            (local.set $a1 (local.get $a0))
            (local.set $a2 (local.get $a0))
            (local.set $a3 (local.get $a0))
            (local.set $p (i32.add (local.get $base) (local.get $i)))
            (local.set $w (local.get $wBase))
            (local.set $k (i32.const 0))
            (block $kDone
              (loop $kLoop
                (br_if $kDone (i32.ge_u (local.get $k) (local.get $n)))
                (local.set $v (v128.load (local.get $p)))
                (local.set $wv (i32x4.splat (i32.load (local.get $w))))
                (local.set $lo (i16x8.extend_low_i8x16_u (local.get $v)))
                (local.set $hi (i16x8.extend_high_i8x16_u (local.get $v)))
                (local.set $a0 (i32x4.add (local.get $a0) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $lo)) (local.get $wv))))
                (local.set $a1 (i32x4.add (local.get $a1) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $lo)) (local.get $wv))))
                (local.set $a2 (i32x4.add (local.get $a2) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $hi)) (local.get $wv))))
                (local.set $a3 (i32x4.add (local.get $a3) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $hi)) (local.get $wv))))
                (local.set $p (i32.add (local.get $p) (local.get $stride)))
                (local.set $w (i32.add (local.get $w) (i32.const 4)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $kLoop)))
            (v128.store (i32.add (local.get $o) (local.get $i))
              (i8x16.narrow_i16x8_u
                (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a0) (i32.const 22)) (i32x4.shr_s (local.get $a1) (i32.const 22)))
                (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a2) (i32.const 22)) (i32x4.shr_s (local.get $a3) (i32.const 22)))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $iLoop)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $yLoop))))
)
